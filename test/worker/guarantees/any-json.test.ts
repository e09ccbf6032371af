// One odd field never sinks a batch, and text stored as a key is never silently changed.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { browserPost, createSite, eventually, serverPost } from "../helpers";

const row = (siteId: string, messageId: string) =>
  env.DB.prepare("SELECT name, message_id AS messageId, payload FROM events WHERE site_id = ? AND message_id = ?").bind(siteId, messageId).first<{ name: string; messageId: string; payload: string }>();

describe("any JSON in context", () => {
  it("context.campaign.medium: 5 next to a referrer: the whole batch is accepted and archived", async () => {
    const site = await createSite({}, "ws_anyjson");
    const page = { url: "https://shop.example/landing", referrer: "https://news.example/story" };
    const res = await browserPost(site, "/v1/batch", {
      batch: [
        { type: "page", messageId: "mj-1", context: { page, campaign: { medium: 5, source: ["x"], name: { n: 1 } } } },
        { type: "track", event: "Good", messageId: "mj-2", context: { page } },
      ],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 2, rejected: [] });
    const stored = await eventually(() => row(site.id, "mj-1"), (r) => r !== null);
    const context = JSON.parse(stored!.payload).context;
    expect(context.campaign).toEqual({ medium: 5, source: ["x"], name: { n: 1 } });
    expect(context.referrer).toEqual({ url: "https://news.example/story", host: "news.example", type: "referral" });
    expect(await eventually(() => row(site.id, "mj-2"), (r) => r !== null)).not.toBeNull();
  });
});

describe("unpaired surrogates", () => {
  it("in an event name or a messageId are refused with their path; the rest of the batch is kept", async () => {
    const site = await createSite({}, "ws_surrogates");
    const res = await serverPost(site, "/v1/batch", {
      batch: [
        { type: "track", userId: "u", event: "Bought \ud800", messageId: "sg-1" },
        { type: "track", userId: "u", event: "Bought", messageId: "sg-\udc00" },
        { type: "page", userId: "u", name: "Home \udbff", messageId: "sg-3" },
        { type: "track", userId: "u", event: "Bought \ud83d\ude00", messageId: "sg-\ud83d\ude00" },
      ],
    });
    expect(res.status).toBe(200);
    const body = await res.json<{ accepted: number; rejected: { index: number; path: string; code: string }[] }>();
    expect(body.accepted).toBe(1);
    expect(body.rejected.map((r) => [r.index, r.path, r.code])).toEqual([
      [0, "batch.0.event", "invalid_event"],
      [1, "batch.1.messageId", "invalid_event"],
      [2, "batch.2.name", "invalid_event"],
    ]);
    // A valid astral character is kept byte for byte, in the columns and in the payload.
    const stored = await eventually(() => row(site.id, "sg-\ud83d\ude00"), (r) => r !== null);
    expect(stored!.name).toBe("Bought \ud83d\ude00");
    expect(JSON.parse(stored!.payload).event).toBe("Bought \ud83d\ude00");

    const single = await serverPost(site, "/v1/track", { userId: "u", event: "x\ud800" });
    expect(single.status).toBe(400);
    expect(await single.json()).toEqual({ error: { code: "invalid_event", message: expect.stringContaining("Unicode"), path: "event" } });
  });
});
