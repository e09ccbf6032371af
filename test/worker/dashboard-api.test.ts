// The admin endpoints the dashboard reads (worker/reports/overview.ts, the events feed's filters,
// the email search, the privacy requests list) and the page itself at /admin, inside workerd with
// real D1 and Durable Objects; events arrive through the real queue.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminCall, call, createSite, drainQueue, serverPost, type TestSite } from "./helpers";

const WS = "ws_dash";
let site: TestSite;
let other: TestSite;
const run = `r${Date.now().toString(36)}`;

beforeAll(async () => {
  site = await createSite({ name: "Dash shop" }, WS);
  other = await createSite({ name: "Other shop" }, WS);
  const now = Date.now();
  const batch = [
    { type: "identify", userId: `ada-${run}`, traits: { email: ` Ada.${run}@Example.com ` }, timestamp: new Date(now - 120_000).toISOString() },
    { type: "track", userId: `ada-${run}`, event: "Product Viewed", properties: { sku: "s1" } },
    { type: "track", userId: `bob-${run}`, event: "Product Viewed", properties: { sku: "s2" } },
    { type: "track", userId: `bob-${run}`, event: "Order Completed", properties: { total: 10 } },
    { type: "page", anonymousId: `anon-${run}`, name: "Home" },
  ];
  const res = await serverPost(site, "/v1/batch", { batch });
  expect(res.status).toBe(200);
  expect((await serverPost(other, "/v1/track", { userId: `cy-${run}`, event: "Elsewhere" })).status).toBe(200);
  await drainQueue();
});

const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });

describe("GET /admin/api/overview", () => {
  it("counts a site's events and visitors in the period, with zeros in the chart's empty buckets", async () => {
    const { status, body } = await json(await adminCall(`/admin/api/overview?siteId=${site.id}&period=1h`, { workspace: WS, role: "viewer" }));
    expect(status).toBe(200);
    expect(body.events).toEqual({ current: 5, previous: 0 });
    expect(body.visitors).toEqual({ current: 3, previous: 0 });
    expect(body.currentVisitors).toBe(3);
    expect(body.bucketMinutes).toBe(1);
    expect(body.series).toHaveLength(60);
    expect(body.series.reduce((n: number, b: { events: number }) => n + b.events, 0)).toBe(5);
    expect(body.series.filter((b: { events: number }) => b.events === 0).length).toBeGreaterThanOrEqual(57);
    expect(Date.parse(body.to) - Date.parse(body.from)).toBe(3_600_000);
    expect(body.consent.map((c: { purpose: string }) => c.purpose)).toEqual(["analytics", "personalization", "advertising"]);
  });

  it("moves events received before the period into the previous one", async () => {
    const now = Date.now();
    await env.DB.prepare("UPDATE events SET received_at = ? WHERE site_id = ? AND type = 'identify'").bind(now - 90 * 60_000, site.id).run();
    const { body } = await json(await adminCall(`/admin/api/overview?siteId=${site.id}&period=1h`, { workspace: WS }));
    expect(body.events).toEqual({ current: 4, previous: 1 });
    expect(body.visitors).toEqual({ current: 3, previous: 1 });
    const day = await json(await adminCall(`/admin/api/overview?siteId=${site.id}`, { workspace: WS }));
    expect(day.body.period).toBe("24h");
    expect(day.body.events.current).toBe(5);
    expect(day.body.series).toHaveLength(48);
  });

  it("answers 404 for another workspace's site and 400 for an unknown period", async () => {
    const foreign = await adminCall(`/admin/api/overview?siteId=${site.id}`, { workspace: "ws_elsewhere" });
    expect(foreign.status).toBe(404);
    const bad = await json(await adminCall(`/admin/api/overview?siteId=${site.id}&period=2y`, { workspace: WS }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.path).toBe("period");
  });
});

describe("GET /admin/api/events with since, type and name", () => {
  it("filters by type and name, and returns only what was received after `since`", async () => {
    const viewed = await json(await adminCall(`/admin/api/events?siteId=${site.id}&type=track&name=${encodeURIComponent("Product Viewed")}`, { workspace: WS, role: "viewer" }));
    expect(viewed.status).toBe(200);
    expect(viewed.body.events.map((e: { userId: string }) => e.userId).sort()).toEqual([`ada-${run}`, `bob-${run}`]);
    const pages = await json(await adminCall(`/admin/api/events?siteId=${site.id}&type=page`, { workspace: WS }));
    expect(pages.body.events.map((e: { name: string }) => e.name)).toEqual(["Home"]);

    const newest = (await json(await adminCall(`/admin/api/events?siteId=${site.id}&limit=1`, { workspace: WS }))).body.events[0].receivedAt as string;
    const none = await json(await adminCall(`/admin/api/events?siteId=${site.id}&since=${newest}`, { workspace: WS }));
    expect(none.body.events).toEqual([]);
    expect((await serverPost(site, "/v1/track", { userId: `ada-${run}`, event: "Later" })).status).toBe(200);
    await drainQueue();
    const later = await json(await adminCall(`/admin/api/events?siteId=${site.id}&since=${newest}`, { workspace: WS }));
    expect(later.body.events.map((e: { name: string }) => e.name)).toEqual(["Later"]);
  });

  it("refuses a `since` that is not a date-time, naming it", async () => {
    const { status, body } = await json(await adminCall(`/admin/api/events?since=yesterday`, { workspace: WS }));
    expect(status).toBe(400);
    expect(body.error.path).toBe("since");
  });
});

describe("GET /admin/api/profiles/search", () => {
  it("finds the profile whose identify call gave the email, whatever its case and spaces", async () => {
    const { status, body } = await json(await adminCall(`/admin/api/profiles/search?email=${encodeURIComponent(`ada.${run}@example.COM`)}`, { workspace: WS, role: "viewer" }));
    expect(status).toBe(200);
    expect(body.profiles).toEqual([{ key: `${WS}:user:ada-${run}`, userId: `ada-${run}` }]);
    const elsewhere = await json(await adminCall(`/admin/api/profiles/search?email=${encodeURIComponent(`ada.${run}@example.com`)}`, { workspace: "ws_elsewhere" }));
    expect(elsewhere.body.profiles).toEqual([]);
  });
});

describe("GET /admin/api/privacy/requests", () => {
  it("lists the workspace's erasures, newest first, for admins only", async () => {
    const erased = await adminCall("/admin/api/privacy/erase", { workspace: WS, method: "POST", body: JSON.stringify({ userId: `bob-${run}` }) });
    expect(erased.status).toBe(200);
    const { id } = (await erased.json()) as { id: string };
    const { status, body } = await json(await adminCall("/admin/api/privacy/requests", { workspace: WS }));
    expect(status).toBe(200);
    expect(body.requests[0]).toMatchObject({ id, kind: "erase", status: "done" });
    expect((await json(await adminCall("/admin/api/privacy/requests", { workspace: "ws_elsewhere" }))).body.requests).toEqual([]);
    expect((await adminCall("/admin/api/privacy/requests", { workspace: WS, role: "editor" })).status).toBe(403);
  });
});

describe("the dashboard page", () => {
  it("is served at /admin and /admin/ with a policy that allows only the Worker's own files", async () => {
    for (const path of ["/admin", "/admin/"]) {
      const res = await call(path);
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Security-Policy")).toContain("default-src 'self'");
      expect(res.headers.get("Cache-Control")).toBe("no-cache");
      const html = await res.text();
      const script = /<script type="module" src="(\/admin\/app\.[0-9a-f]{8}\.js)">/.exec(html)?.[1];
      expect(script).toBeDefined();
      const asset = await call(script!);
      expect(asset.status).toBe(200);
      expect(asset.headers.get("Content-Type")).toMatch(/javascript/);
    }
  });
});
