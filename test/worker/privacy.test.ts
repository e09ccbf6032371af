// Privacy rights: access (export) and erasure, complete across every store; retention.
import { createScheduledController, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../worker/index";
import { profileStub } from "../../worker/identity/keys";
import { adminCall, browserPost, createSite, drainQueue, eventually, lookup, serverPost, type TestSite } from "./helpers";

const count = async (query: string, ...params: unknown[]) => (await env.DB.prepare(query).bind(...params).first<{ n: number }>())!.n;

/** A user with browser history, server events, a failed event and consent choices. */
async function makeSubject(site: TestSite, userId: string) {
  const browser = await browserPost(site, "/v1/batch", { batch: [{ type: "page", context: { consent: { categoryPreferences: { Analytics: true, Personalization: true } } } }] });
  const cookie = browser.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const anonymousId = /cohort_id=([\w-]+)\./.exec(cookie)![1]!;
  await browserPost(site, "/v1/batch", { batch: [{ type: "identify", userId, traits: { email: `${userId}@example.com` } }] }, { Cookie: cookie });
  await serverPost(site, "/v1/batch", { batch: [{ type: "track", userId, event: "Order Completed" }, { type: "track", userId }] });
  await eventually(() => count("SELECT COUNT(*) AS n FROM events WHERE user_id = ? OR anonymous_id = ?", userId, anonymousId), (n) => n === 3);
  await eventually(() => count("SELECT COUNT(*) AS n FROM failed_events WHERE json_extract(payload, '$.userId') = ?", userId), (n) => n === 1);
  await eventually(() => count("SELECT COUNT(*) AS n FROM consent_ledger WHERE site_id = ?", site.id), (n) => n >= 1);
  return { anonymousId, cookie };
}

afterEach(() => vi.useRealTimers());

describe("export", () => {
  it("returns everything held about the subject from every store", async () => {
    const site = await createSite({}, "ws_privacy");
    const { anonymousId } = await makeSubject(site, "u-export");
    const res = await adminCall("/admin/api/privacy/export", { method: "POST", workspace: "ws_privacy", body: JSON.stringify({ userId: "u-export" }) });
    expect(res.status).toBe(200);
    const doc = await res.json<Record<string, any>>();
    expect(doc.identities.userIds).toEqual(["u-export"]);
    expect(doc.identities.anonymousIds).toEqual([anonymousId]);
    const profile = doc.profiles.find((p: { key: string }) => p.key === "ws_privacy:user:u-export");
    expect(profile.data.traits).toEqual([expect.objectContaining({ name: "email", value: '"u-export@example.com"' })]);
    expect(profile.data.counters).toMatchObject({ total: 3 });
    expect(doc.events.map((e: { type: string }) => e.type).sort()).toEqual(["identify", "page", "track"]);
    expect(doc.failedEvents).toHaveLength(1);
    expect(doc.consentLedger.length).toBeGreaterThanOrEqual(1);
    expect(doc.consentLedger[0].consent.purposes.analytics).toBe(true);
  });

  it("needs exactly one id and the admin role", async () => {
    expect((await adminCall("/admin/api/privacy/export", { method: "POST", body: "{}" })).status).toBe(400);
    expect((await adminCall("/admin/api/privacy/export", { method: "POST", body: JSON.stringify({ userId: "a", anonymousId: "b" }) })).status).toBe(400);
    expect((await adminCall("/admin/api/privacy/export", { method: "POST", role: "editor", body: JSON.stringify({ userId: "a" }) })).status).toBe(403);
  });
});

describe("erase", () => {
  it("deletes the subject everywhere, and a replay does not bring them back", async () => {
    const site = await createSite({}, "ws_erase");
    const { anonymousId, cookie } = await makeSubject(site, "u-erase");
    const res = await adminCall("/admin/api/privacy/erase", { method: "POST", workspace: "ws_erase", body: JSON.stringify({ userId: "u-erase" }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "done", steps: expect.arrayContaining([{ name: "events", done: true, count: 3 }, { name: "failedEvents", done: true, count: 1 }]) });

    expect(await count("SELECT COUNT(*) AS n FROM events WHERE user_id = 'u-erase' OR anonymous_id = ?", anonymousId)).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM failed_events WHERE payload LIKE '%u-erase%'")).toBe(0);
    for (const key of ["ws_erase:user:u-erase", `ws_erase:anon:${anonymousId}`]) {
      const stub = profileStub(env.PROFILES, key as `${string}:user:${string}`);
      const left = await runInDurableObject(stub, async (_i, state) => ({
        tables: state.storage.sql.exec("SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM traits) + (SELECT COUNT(*) FROM identities) + (SELECT COUNT(*) FROM counters) AS n").one().n,
        meta: state.storage.sql.exec("SELECT name FROM meta").toArray().map((r) => r.name),
        alarm: await state.storage.getAlarm(),
      }));
      expect(left).toEqual({ tables: 0, meta: ["erased"], alarm: null });
    }
    expect((await adminCall("/admin/api/profiles/lookup?userId=u-erase", { workspace: "ws_erase" })).status).toBe(404);
    expect(await count("SELECT COUNT(*) AS n FROM suppressions WHERE workspace_id = 'ws_erase'")).toBeGreaterThanOrEqual(2);

    // Replays: the server resends an old event, the browser sends with its old cookie.
    await serverPost(site, "/v1/track", { userId: "u-erase", event: "Order Completed", messageId: "replayed" });
    const browser = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] }, { Cookie: cookie });
    expect(browser.headers.getSetCookie().some((c) => /^cohort_id=; Max-Age=0/.test(c))).toBe(true);
    // Everything the replays queued has reached the consumer: what is absent was never written.
    await drainQueue();
    expect((await adminCall("/admin/api/profiles/lookup?userId=u-erase", { workspace: "ws_erase" })).status).toBe(404);
    expect(await count("SELECT COUNT(*) AS n FROM events WHERE user_id = 'u-erase' OR anonymous_id = ?", anonymousId)).toBe(0);
  });
});

describe("retention", () => {
  it("expires a profile after the site's days of inactivity (alarm)", async () => {
    const now = Date.now();
    vi.setSystemTime(now);
    const site = await createSite({ retentionDays: 1 });
    // Its last activity turns a day old a minute from now: the expiry alarm is due then (not at
    // once, where the runtime would run it before the test does).
    const last = new Date(now - 86_400_000 + 60_000).toISOString();
    const res = await serverPost(site, "/v1/track", { userId: "u-old", event: "Long Ago", timestamp: last });
    expect(res.status).toBe(200);
    const stub = profileStub(env.PROFILES, `${site.workspaceId}:user:u-old`);
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).toBe(now + 60_000);
    vi.setSystemTime(now + 61_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await lookup("userId=u-old")).status).toBe(404);
    expect(await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM events").one().n)).toBe(0);
    // Nothing is left to do: no alarm stays behind an expired profile.
    expect(await runDurableObjectAlarm(stub)).toBe(false);
  });

  it("keeps an active profile when its alarm fires early", async () => {
    const now = Date.now();
    vi.setSystemTime(now);
    const site = await createSite({ retentionDays: 30 });
    await serverPost(site, "/v1/track", { userId: "u-active", event: "Now" });
    const stub = profileStub(env.PROFILES, `${site.workspaceId}:user:u-active`);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await lookup("userId=u-active")).status).toBe(200);
    // The alarm set itself again for the expiry, 30 days after the last event.
    expect(await runInDurableObject(stub, (_i, state) => state.storage.getAlarm())).toBe(now + 30 * 86_400_000);
  });

  it("purges raw events older than the retention (scheduled job)", async () => {
    const site = await createSite({ retentionDays: 7 });
    const now = Date.now();
    const old = now - 10 * 86_400_000;
    await env.DB.prepare(
      "INSERT INTO events (workspace_id, message_id, site_id, type, timestamp, received_at, payload) VALUES (?, 'old-1', ?, 'track', ?, ?, '{}'), (?, 'new-1', ?, 'track', ?, ?, '{}')",
    )
      .bind(site.workspaceId, site.id, old, old, site.workspaceId, site.id, now, now)
      .run();
    await worker.scheduled(createScheduledController({ scheduledTime: now }), env);
    const left = await env.DB.prepare("SELECT message_id FROM events WHERE site_id = ?").bind(site.id).all<{ message_id: string }>();
    expect(left.results.map((r) => r.message_id)).toEqual(["new-1"]);
  });
});
