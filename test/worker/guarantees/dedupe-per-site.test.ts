// The archive dedupes by messageId per site (as Segment does per source), not per workspace.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { browserPost, createSite, eventually, serverPost } from "../helpers";

const archived = (messageId: string) =>
  env.DB.prepare("SELECT site_id, type, name FROM events WHERE message_id = ? ORDER BY site_id").bind(messageId).all<{ site_id: string; type: string; name: string }>();

describe("archive dedupe", () => {
  it("a browser on site A reusing a messageId does not suppress site B's server event", async () => {
    const a = await createSite({ name: "Blog" }, "ws_dedupe");
    const b = await createSite({ name: "Shop" }, "ws_dedupe");
    const browser = await browserPost(a, "/v1/batch", {
      batch: [{ type: "page", messageId: "order-1001", context: { consent: { categoryPreferences: { Analytics: true } } } }],
    });
    expect(browser.status).toBe(200);
    await eventually(() => archived("order-1001"), (r) => r.results.length === 1);

    const server = await serverPost(b, "/v1/track", { userId: "u-dedupe", event: "Order Completed", messageId: "order-1001", properties: { revenue: 42 } });
    expect(server.status).toBe(200);
    const rows = await eventually(() => archived("order-1001"), (r) => r.results.length === 2);
    expect(rows.results.map((r) => [r.site_id, r.type, r.name]).sort()).toEqual([[a.id, "page", null], [b.id, "track", "Order Completed"]].sort());

    // Within one site the same messageId is still one event.
    expect((await serverPost(b, "/v1/track", { userId: "u-dedupe", event: "Order Completed", messageId: "order-1001" })).status).toBe(200);
    await serverPost(b, "/v1/track", { userId: "u-dedupe", event: "Marker", messageId: "marker-1" });
    await eventually(() => archived("marker-1"), (r) => r.results.length === 1);
    expect((await archived("order-1001")).results).toHaveLength(2);
  });
});
