// Real-time segments in the profile: enter, leave, window edges by alarm, backfill, explain.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { profileStub } from "../../worker/identity/keys";
import { adminCall, browserPost, call, createSite, eventually, serverPost, SITE_ORIGIN, type TestSite } from "./helpers";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
type Segment = { id: string; size: number; version: number; backfill: { done: number; total: number } };

async function createSegment(workspace: string, rule: unknown, name = "Segment"): Promise<Segment> {
  const res = await adminCall("/admin/api/segments", { method: "POST", workspace, body: JSON.stringify({ name, rule }) });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}
const getSegment = (workspace: string, id: string) => adminCall(`/admin/api/segments/${id}`, { workspace }).then((r) => r.json<Segment>());
const profileOf = (workspace: string, userId: string) =>
  adminCall(`/admin/api/profiles/lookup?userId=${userId}`, { workspace }).then((r) => r.json<{ segments: string[] }>());
const archived = (userId: string, event: string) =>
  env.DB.prepare("SELECT payload FROM events WHERE user_id = ? AND name = ? ORDER BY timestamp").bind(userId, event).all<{ payload: string }>().then((r) => r.results.map((row) => JSON.parse(row.payload)));

const shoeViews = {
  event: "Product Viewed",
  where: [{ property: "category", op: "eq", value: "shoes" }],
  within: "7d",
  count: { op: "gte", value: 3 },
};
const view = (site: TestSite, userId: string, timestamp = new Date().toISOString()) =>
  serverPost(site, "/v1/track", { userId, event: "Product Viewed", properties: { category: "shoes" }, timestamp });

afterEach(() => vi.useRealTimers());

describe("membership follows events", () => {
  it("enters on the qualifying event, with an entry event and the index", async () => {
    const site = await createSite({}, "ws_seg_enter");
    const segment = await createSegment("ws_seg_enter", shoeViews, "Shoe fans");
    await view(site, "u-shoes");
    await view(site, "u-shoes");
    expect((await profileOf("ws_seg_enter", "u-shoes")).segments).toEqual([]);
    await view(site, "u-shoes");
    expect((await profileOf("ws_seg_enter", "u-shoes")).segments).toEqual([segment.id]);
    await eventually(() => getSegment("ws_seg_enter", segment.id), (s) => s.size === 1);
    const [entered] = await eventually(() => archived("u-shoes", "Segment Entered"), (rows) => rows.length === 1);
    expect(entered.properties).toEqual({ segmentId: segment.id });
  });

  it("leaves on the disqualifying event", async () => {
    const site = await createSite({}, "ws_seg_leave");
    const segment = await createSegment("ws_seg_leave", { all: [{ event: "Product Added", within: "1d" }, { not: { event: "Order Completed", within: "1d" } }] }, "Cart abandoners");
    await serverPost(site, "/v1/track", { userId: "u-cart", event: "Product Added" });
    expect((await profileOf("ws_seg_leave", "u-cart")).segments).toEqual([segment.id]);
    await serverPost(site, "/v1/track", { userId: "u-cart", event: "Order Completed" });
    expect((await profileOf("ws_seg_leave", "u-cart")).segments).toEqual([]);
    await eventually(() => archived("u-cart", "Segment Exited"), (rows) => rows.length === 1);
    await eventually(() => getSegment("ws_seg_leave", segment.id), (s) => s.size === 0);
  });

  it("leaves at the window edge, by the alarm, stamped with the edge's exact time", async () => {
    // The clock is frozen at `now` while the profile is built, then set to the edge.
    const now = Date.now();
    vi.setSystemTime(now);
    const site = await createSite({}, "ws_seg_edge");
    const segment = await createSegment("ws_seg_edge", shoeViews);
    // The oldest of three views turns seven days old an hour after `now`.
    const oldest = now - 7 * DAY + HOUR;
    await view(site, "u-edge", new Date(oldest).toISOString());
    await view(site, "u-edge", new Date(now - DAY).toISOString());
    await view(site, "u-edge");
    expect((await profileOf("ws_seg_edge", "u-edge")).segments).toEqual([segment.id]);

    const stub = profileStub(env.PROFILES, "ws_seg_edge:user:u-edge");
    const alarm = () => runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
    expect(await alarm()).toBe(oldest + 7 * DAY);
    vi.setSystemTime(oldest + 7 * DAY);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await profileOf("ws_seg_edge", "u-edge")).segments).toEqual([]);
    const [exited] = await eventually(() => archived("u-edge", "Segment Exited"), (rows) => rows.length === 1);
    expect(Date.parse(exited.timestamp)).toBe(oldest + 7 * DAY);
    // No edge is left (two views cannot make three again by time alone): only the expiry, 395 days
    // after the last view.
    expect(await alarm()).toBe(now + 395 * DAY);
  });

  it("keeps nobody in a segment without personalisation consent", async () => {
    const site = await createSite({ consentDefaults: { personalization: false } }, "ws_seg_consent");
    await createSegment("ws_seg_consent", { event: "Signed Up" });
    await serverPost(site, "/v1/track", { userId: "u-nope", event: "Signed Up" });
    expect((await profileOf("ws_seg_consent", "u-nope")).segments).toEqual([]);
  });
});

describe("backfill", () => {
  it("evaluates a new segment over every existing profile, with progress", async () => {
    const site = await createSite({}, "ws_seg_backfill");
    await serverPost(site, "/v1/batch", {
      batch: Array.from({ length: 60 }, (_, i) => ({ type: "identify", userId: `bf-${String(i).padStart(2, "0")}`, traits: { plan: i % 3 === 0 ? "pro" : "free" } })),
    });
    // Profiles are indexed in D1 by the queue consumer.
    await eventually(() => env.DB.prepare("SELECT COUNT(*) AS n FROM profiles WHERE workspace_id = 'ws_seg_backfill'").first<{ n: number }>(), (r) => r!.n === 60);
    const segment = await createSegment("ws_seg_backfill", { trait: "plan", op: "eq", value: "pro" }, "Pro plan");
    expect(segment.backfill.total).toBe(60);
    const done = await eventually(() => getSegment("ws_seg_backfill", segment.id), (s) => s.backfill.done === 60 && s.size === 20, 15_000);
    expect(done.size).toBe(20);
    const members = await adminCall(`/admin/api/segments/${segment.id}/members?limit=5`, { workspace: "ws_seg_backfill" }).then((r) => r.json<{ members: unknown[]; next: string }>());
    expect(members.members).toHaveLength(5);
    expect(members.next).toBe("ws_seg_backfill:user:bf-12");
    // A new version is backfilled again.
    const updated = await adminCall(`/admin/api/segments/${segment.id}`, { method: "PUT", workspace: "ws_seg_backfill", body: JSON.stringify({ rule: { trait: "plan", op: "eq", value: "free" } }) }).then((r) => r.json<Segment>());
    expect(updated.version).toBe(2);
    await eventually(() => getSegment("ws_seg_backfill", segment.id), (s) => s.backfill.done === 60 && s.size === 40, 15_000);
  }, 40_000);
});

describe("the admin API", () => {
  it("explains which clauses held, with the values seen", async () => {
    const site = await createSite({}, "ws_seg_explain");
    const segment = await createSegment("ws_seg_explain", { all: [{ trait: "plan", op: "eq", value: "pro" }, shoeViews] });
    await serverPost(site, "/v1/identify", { userId: "u-explain", traits: { plan: "pro" } });
    await view(site, "u-explain");
    const res = await adminCall(`/admin/api/segments/${segment.id}/explain?userId=u-explain`, { workspace: "ws_seg_explain" });
    const body = await res.json<{ member: boolean; explanation: { result: boolean; children: { result: boolean; seen?: unknown }[] } }>();
    expect(body.member).toBe(false);
    expect(body.explanation.children.map((c) => c.result)).toEqual([true, false]);
    expect(body.explanation.children[0]!.seen).toBe("pro");
    expect(body.explanation.children[1]!.seen).toBe(1);
  });

  it.each([
    [{ trait: "plan", op: "like", value: "x" }, "rule.op"],
    [{ all: [{ event: "A", within: "7 days" }] }, "rule.all.0.within"],
    [{ segment: "seg_missing" }, "rule"],
  ])("refuses the invalid rule %j, naming %s", async (rule, path) => {
    const res = await adminCall("/admin/api/segments", { method: "POST", workspace: "ws_seg_invalid", body: JSON.stringify({ name: "Bad", rule }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_rule", path } });
  });

  it("refuses a cycle of references", async () => {
    const a = await createSegment("ws_seg_cycle", { trait: "x", op: "exists" });
    const b = await createSegment("ws_seg_cycle", { segment: a.id });
    const res = await adminCall(`/admin/api/segments/${a.id}`, { method: "PUT", workspace: "ws_seg_cycle", body: JSON.stringify({ rule: { segment: b.id } }) });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain("cycle");
  });

  it("previews a rule's size on a sample before saving", async () => {
    const site = await createSite({}, "ws_seg_preview");
    await serverPost(site, "/v1/batch", { batch: Array.from({ length: 10 }, (_, i) => ({ type: "identify", userId: `pv-${i}`, traits: { vip: i < 4 } })) });
    await eventually(() => env.DB.prepare("SELECT COUNT(*) AS n FROM profiles WHERE workspace_id = 'ws_seg_preview'").first<{ n: number }>(), (r) => r!.n === 10);
    const res = await adminCall("/admin/api/segments/preview", { method: "POST", workspace: "ws_seg_preview", role: "viewer", body: JSON.stringify({ rule: { trait: "vip", op: "eq", value: true } }) });
    expect(await res.json()).toEqual({ sampled: 10, matched: 4, profiles: 10, estimatedSize: 4 });
  });

  it("deletes a segment and its index", async () => {
    const segment = await createSegment("ws_seg_delete", { trait: "x", op: "exists" });
    expect((await adminCall(`/admin/api/segments/${segment.id}`, { method: "DELETE", workspace: "ws_seg_delete" })).status).toBe(204);
    expect((await adminCall(`/admin/api/segments/${segment.id}`, { workspace: "ws_seg_delete" })).status).toBe(404);
  });
});

describe("the index follows profiles that go away", () => {
  it("counts a visitor once after sign-in, and drops them when consent is withdrawn", async () => {
    const site = await createSite({}, "ws_seg_index");
    const segment = await createSegment("ws_seg_index", { event: "Product Viewed" });
    const first = await browserPost(site, "/v1/batch", { batch: [{ type: "track", event: "Product Viewed" }] });
    const cookie = first.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    await eventually(() => getSegment("ws_seg_index", segment.id), (s) => s.size === 1);
    await browserPost(site, "/v1/batch", { batch: [{ type: "identify", userId: "u-index" }] }, { Cookie: cookie });
    await eventually(
      () => adminCall(`/admin/api/segments/${segment.id}/members`, { workspace: "ws_seg_index" }).then((r) => r.json<{ members: { profileKey: string }[] }>()),
      (m) => m.members.length === 1 && m.members[0]!.profileKey === "ws_seg_index:user:u-index",
    );
    await call("/v1/consent", {
      method: "POST",
      cf: { country: "US" },
      headers: { Origin: SITE_ORIGIN, Cookie: cookie, "Content-Type": "text/plain" },
      body: JSON.stringify({ writeKey: site.writeKey, purposes: { analytics: false, personalization: false } }),
    });
    await eventually(() => getSegment("ws_seg_index", segment.id), (s) => s.size === 0);
  });
});
