// The ProfileStore Durable Object: one writer per profile, each messageId applied once.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { profileStub } from "../../worker/identity/keys";
import { createSite, eventually, lookup, serverPost, type TestSite } from "./helpers";

let site: TestSite;
beforeAll(async () => {
  site = await createSite();
});

describe("deduplication", () => {
  it("applies each messageId once under concurrent duplicate delivery", async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `dup-${i}`);
    // Every event is sent five times, from 100 parallel requests, in a scrambled order.
    const sends = ids.flatMap((id) => Array.from({ length: 5 }, () => id)).sort(() => Math.random() - 0.5);
    const responses = await Promise.all(
      sends.map((messageId) => serverPost(site, "/v1/track", { userId: "u-dup", messageId, event: "Product Viewed", properties: { n: 1 } })),
    );
    expect(responses.every((r) => r.status === 200)).toBe(true);

    const profile = await (await lookup("userId=u-dup")).json<{ counters: Record<string, number>; recentEvents: unknown[] }>();
    expect(profile.counters).toEqual({ total: 20, "type:track": 20, "event:Product Viewed": 20 });
    expect(profile.recentEvents).toHaveLength(20);

    const archived = await eventually(
      () => env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE user_id = 'u-dup'").first<{ n: number }>(),
      (row) => row!.n === 20,
    );
    expect(archived!.n).toBe(20);
  });

  it("remembers applied messageIds across an eviction", async () => {
    await serverPost(site, "/v1/track", { userId: "u-evict", messageId: "e-1", event: "A" });
    const stub = profileStub(env.PROFILES, `${site.workspaceId}:user:u-evict`);
    await evictDurableObject(stub);
    await serverPost(site, "/v1/track", { userId: "u-evict", messageId: "e-1", event: "A" });
    await serverPost(site, "/v1/track", { userId: "u-evict", messageId: "e-2", event: "A" });
    const profile = await (await lookup("userId=u-evict")).json<{ counters: Record<string, number> }>();
    expect(profile.counters.total).toBe(2);
  });
});

describe("profile state", () => {
  it("merges traits, keeps identities, first/last seen and campaign touches", async () => {
    await serverPost(site, "/v1/batch", {
      batch: [
        { type: "identify", userId: "u-state", anonymousId: "a-state", traits: { plan: "free", name: "Ada" }, timestamp: "2026-01-01T10:00:00.000Z" },
        {
          type: "page",
          userId: "u-state",
          timestamp: "2026-01-02T10:00:00.000Z",
          context: { page: { url: "https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=spring", referrer: "" } },
        },
        { type: "identify", userId: "u-state", traits: { plan: "pro" }, timestamp: "2026-01-03T10:00:00.000Z" },
        { type: "track", userId: "u-state", event: "Order Completed", properties: { total: 42 }, timestamp: "2026-01-04T10:00:00.000Z" },
      ],
    });
    const profile = await (await lookup("userId=u-state")).json<Record<string, any>>();
    expect(profile.key).toBe(`${site.workspaceId}:user:u-state`);
    expect(profile.traits).toEqual({ plan: "pro", name: "Ada" });
    expect(profile.identities).toEqual(expect.arrayContaining([{ kind: "userId", value: "u-state" }, { kind: "anonymousId", value: "a-state" }]));
    expect(profile.firstSeen).toBe("2026-01-01T10:00:00.000Z");
    expect(profile.lastSeen).toBe("2026-01-04T10:00:00.000Z");
    expect(profile.campaigns.first).toMatchObject({ source: "news", medium: "email", name: "spring", referrerType: "email" });
    expect(profile.recentEvents[0]).toMatchObject({ type: "track", event: "Order Completed", properties: { total: 42 } });
    expect(profile.counters).toMatchObject({ total: 4, "type:identify": 2, "type:page": 1, "event:Order Completed": 1 });
  });

  it("keeps its recent-event list bounded", async () => {
    const batch = Array.from({ length: 230 }, (_, i) => ({ type: "track", userId: "u-many", event: "Tick", messageId: `tick-${i}` }));
    await serverPost(site, "/v1/batch", { batch });
    const stub = profileStub(env.PROFILES, `${site.workspaceId}:user:u-many`);
    const stored = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM events").one().n);
    expect(stored).toBe(200);
    const profile = await (await lookup("userId=u-many")).json<{ counters: Record<string, number> }>();
    expect(profile.counters.total).toBe(230);
  });

  it("is 404 for a profile that does not exist", async () => {
    const res = await lookup("userId=nobody");
    expect(res.status).toBe(404);
  });
});
