// Queue batches are measured in UTF-8 bytes: a batch of multi-byte text inside every documented
// limit (32 KB an event, 500 KB a batch) is accepted and archived, not refused by the queue.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_BATCH_BYTES, MAX_EVENT_BYTES } from "../../../worker/collect/parse";
import { createSite, eventually, serverPost } from "../helpers";

const archived = async (siteId: string) =>
  (await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE site_id = ? AND name = 'Review Written'").bind(siteId).first<{ n: number }>())!.n;

describe("a batch of CJK text", () => {
  it("inside every limit answers 200 and every event is archived", async () => {
    const site = await createSite({}, "ws_cjk");
    // 9,700 CJK characters are 29,100 UTF-8 bytes: each event is just under 32 KB.
    const text = "評論".repeat(4_850);
    const batch = Array.from({ length: 14 }, (_, i) => ({
      type: "track",
      userId: `u-cjk-${i}`,
      messageId: `cjk-${i}`,
      event: "Review Written",
      properties: { text },
    }));
    const body = JSON.stringify({ batch });
    const bytes = new TextEncoder().encode(body).byteLength;
    expect(bytes).toBeGreaterThan(406_000);
    expect(bytes).toBeLessThan(MAX_BATCH_BYTES);
    for (const event of batch) expect(new TextEncoder().encode(JSON.stringify(event)).byteLength).toBeLessThan(MAX_EVENT_BYTES);

    const res = await serverPost(site, "/v1/batch", body);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ success: true, accepted: 14, rejected: [] });
    expect(await eventually(() => archived(site.id), (n) => n === 14)).toBe(14);
    const row = await env.DB.prepare("SELECT payload FROM events WHERE site_id = ? AND message_id = 'cjk-7'").bind(site.id).first<{ payload: string }>();
    expect(JSON.parse(row!.payload).properties.text).toBe(text);
  });
});
