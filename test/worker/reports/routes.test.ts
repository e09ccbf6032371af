// The report routes as an analyst calls them: funnels, journeys (and what erasure and consent
// withdrawal take out of them), validation with a path, and the workspace boundary.
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { membershipMessages, type PipelineMessage } from "../../../worker/pipeline/messages";
import { reachedInMemory, reachedInSql } from "../../../worker/reports/queries";
import { adminCall, call, createSite } from "../helpers";
import { campaignPage, DAY, dayOf, deliver, exposure, getJson, T0, track } from "./helpers";

const WS = "ws_test";
const HOUR = 3_600_000;

const funnel = (body: unknown, init = {}) => adminCall("/admin/api/reports/funnel", { role: "viewer", method: "POST", body: JSON.stringify(body), ...init });

describe("POST /admin/api/reports/funnel", () => {
  it("counts visitors through ordered steps within the window, with a where on a step", async () => {
    const site = await createSite();
    const t = (user: string, at: number, name: string, properties = {}) => track(WS, site.id, user, at, name, properties);
    await deliver([
      t("f1", T0, "Product Viewed", { category: "shoes" }),
      t("f1", T0 + HOUR, "Added to Cart"),
      t("f1", T0 + 2 * HOUR, "Order Completed"),
      t("f2", T0, "Product Viewed", { category: "shoes" }),
      t("f2", T0 + HOUR, "Added to Cart"),
      t("f2", T0 + 10 * DAY, "Order Completed"), // outside the 7 days of its first step
      t("f3", T0, "Product Viewed", { category: "bags" }), // not the step's where
      t("f3", T0 + HOUR, "Added to Cart"),
      t("f4", T0 - HOUR, "Added to Cart"), // before the first step: out of order
      t("f4", T0, "Product Viewed", { category: "shoes" }),
    ]);
    const res = await funnel({
      siteId: site.id,
      steps: [{ event: "Product Viewed", where: [{ property: "category", op: "eq", value: "shoes" }] }, { event: "Added to Cart" }, { event: "Order Completed" }],
      within: "7d",
      from: dayOf(T0),
      to: dayOf(T0),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.steps.map((s: any) => [s.event, s.visitors, s.conversion, s.dropOff])).toEqual([
      ["Product Viewed", 3, 1, 0],
      ["Added to Cart", 2, 2 / 3, 1],
      ["Order Completed", 1, 1 / 3, 1],
    ]);
  });

  it("gives the same counts in SQL as in memory (the fallback for steps with many distinct properties)", async () => {
    const site = await createSite();
    const messages: PipelineMessage[] = [];
    for (let v = 0; v < 40; v++) {
      const at = T0 + (v % 5) * DAY + v * 60_000;
      messages.push(track(WS, site.id, `g${v}`, at, "Viewed", { n: v % 3 }));
      if (v % 2) messages.push(track(WS, site.id, `g${v}`, at + (v % 7) * DAY, "Carted"));
      if (v % 3) messages.push(track(WS, site.id, `g${v}`, at + ((v * 5) % 9) * DAY - HOUR, "Bought"));
    }
    for (let i = 0; i < messages.length; i += 50) await deliver(messages.slice(i, i + 50));
    const q = { siteId: site.id, from: dayOf(T0), to: dayOf(T0 + 4 * DAY), withinMs: 5 * DAY, steps: [{ event: "Viewed", where: [{ property: "n", op: "neq" as const, value: 1 }] }, { event: "Carted" }, { event: "Bought" }] };
    const inSql = await reachedInSql(env.DB, q);
    expect(inSql).toEqual(await reachedInMemory(env.DB, q));
    expect(inSql![0]).toBeGreaterThan(inSql![2]!);
  });

  it("has page views as the step Page Viewed, with the page's path to test", async () => {
    const site = await createSite();
    await deliver([campaignPage(WS, site.id, "pv1", T0, { source: "news" }), track(WS, site.id, "pv1", T0 + HOUR, "Signed Up"), track(WS, site.id, "pv2", T0, "Signed Up")]);
    const res = await funnel({ siteId: site.id, steps: [{ event: "Page Viewed", where: [{ property: "path", op: "eq", value: "/landing" }] }, { event: "Signed Up" }], within: "1d", from: dayOf(T0), to: dayOf(T0) });
    expect(((await res.json()) as any).steps.map((s: any) => s.visitors)).toEqual([1, 1]);
  });

  it.each([
    [{ steps: [{ event: "A" }] }, "steps"],
    [{ steps: [{ event: "A", where: [{ property: "x", op: "nope", value: 1 }] }, { event: "B" }] }, "steps.0.where.0.op"],
    [{ within: "a week" }, "within"],
    [{ from: "2026-02-30" }, "from"],
    [{ from: "2026-11-20", to: "2026-11-01" }, "to"],
  ])("refuses %j with a 400 naming %s", async (change, path) => {
    const site = await createSite();
    const res = await funnel({ siteId: site.id, steps: [{ event: "A" }, { event: "B" }], within: "7d", from: "2026-11-01", to: "2026-11-10", ...change });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error).toMatchObject({ code: "invalid_request", path });
  });
});

describe("GET /admin/api/profiles/journey", () => {
  async function visitor(site: { id: string }, user: string) {
    await deliver([
      track(WS, site.id, user, T0 + 2 * HOUR, "Order Completed", { revenue: 42 }),
      campaignPage(WS, site.id, user, T0, { source: "newsletter", medium: "email", name: "nov" }),
      exposure(WS, site.id, user, T0 + HOUR, "exp_1", "b"),
      ...membershipMessages(`${WS}:user:${user}`, site.id, [{ segmentId: "seg_1", member: true, at: T0 + 30 * 60_000 }]),
    ]);
  }

  it("lists one visitor's touchpoints in time order", async () => {
    const site = await createSite();
    await visitor(site, "j1");
    const { status, body } = await getJson("/admin/api/profiles/journey?userId=j1");
    expect(status).toBe(200);
    expect(body.profileKey).toBe(`${WS}:user:j1`);
    expect(body.touchpoints.map((t: any) => [t.kind, t.name])).toEqual([
      ["touch", "newsletter"],
      ["page", "Landing"],
      ["segment", "seg_1"],
      ["exposure", "exp_1"],
      ["conversion", "Order Completed"],
    ]);
    expect(body.touchpoints[0]).toMatchObject({ at: new Date(T0).toISOString(), source: "newsletter", medium: "email", campaign: "nov" });
    expect(body.touchpoints[4]).toMatchObject({ revenue: 4200 });
    expect((await getJson("/admin/api/profiles/journey?userId=j1&limit=2")).body).toMatchObject({ truncated: true });
  });

  it("drops a visitor who withdrew consent from journeys, while the aggregate counts keep their conversion", async () => {
    const site = await createSite();
    await visitor(site, "j2");
    const forget: PipelineMessage = { kind: "forget", workspaceId: WS, profileKey: `${WS}:user:j2`, archive: true };
    await deliver([forget]);
    const journey = await getJson("/admin/api/profiles/journey?userId=j2");
    expect(journey.status).toBe(404);
    expect(journey.body.error.path).toBe("userId");
    const q = new URLSearchParams({ siteId: site.id, conversion: "Order Completed", model: "last", from: dayOf(T0), to: dayOf(T0) });
    expect((await getJson(`/admin/api/reports/attribution?${q}`)).body.rows).toEqual([{ source: "newsletter", medium: "email", campaign: "nov", conversions: 1, revenue: 42 }]);
  });

  it("drops an erased subject from journeys and funnels; attribution keeps the anonymous count", async () => {
    const site = await createSite();
    await visitor(site, "j3");
    const erase = await adminCall("/admin/api/privacy/erase", { method: "POST", body: JSON.stringify({ userId: "j3" }) });
    expect(erase.status).toBe(200);
    expect((await getJson("/admin/api/profiles/journey?userId=j3")).status).toBe(404);
    const res = await funnel({ siteId: site.id, steps: [{ event: "Page Viewed" }, { event: "Order Completed" }], within: "1d", from: dayOf(T0), to: dayOf(T0) });
    expect(((await res.json()) as any).steps.map((s: any) => s.visitors)).toEqual([0, 0]);
    const q = new URLSearchParams({ siteId: site.id, conversion: "Order Completed", model: "last", from: dayOf(T0), to: dayOf(T0) });
    expect((await getJson(`/admin/api/reports/attribution?${q}`)).body.total).toEqual({ conversions: 1, revenue: 42 });
  });

  it.each([
    ["", 400, "userId"],
    ["?userId=a&anonymousId=b", 400, "userId"],
    ["?anonymousId=nobody", 404, "anonymousId"],
    ["?userId=x&limit=0", 400, "limit"],
  ])("answers %s with %i naming %s", async (query, status, path) => {
    const res = await getJson(`/admin/api/profiles/journey${query}`);
    expect(res.status).toBe(status);
    expect(res.body.error.path).toBe(path);
  });
});

describe("report validation and scope", () => {
  it.each([
    ["/admin/api/reports/attribution?siteId=S&conversion=Order&from=2026-13-01", 400, "from"],
    ["/admin/api/reports/attribution?siteId=S&conversion=Order&lookback=45d", 400, "lookback"],
    ["/admin/api/reports/attribution?siteId=S&conversion=Order&model=shapley", 400, "model"],
    ["/admin/api/reports/attribution?siteId=S", 400, "conversion"],
    ["/admin/api/reports/attribution?siteId=S&conversion=Order&from=2026-11-02&to=2026-11-01", 400, "to"],
    ["/admin/api/reports/attribution?siteId=site_nope&conversion=Order", 404, "siteId"],
    ["/admin/api/reports/consent?siteId=site_nope", 404, "siteId"],
    ["/admin/api/reports/consent?siteId=S&to=yesterday", 400, "to"],
    ["/admin/api/experiences/exp_nope/results", 404, "id"],
    ["/admin/api/experiences/exp_nope/results?from=nope", 400, "from"],
    ["/admin/api/segments/seg_nope/history", 404, "id"],
  ])("%s → %i naming %s", async (path, status, field) => {
    const site = await createSite();
    const res = await getJson(path.replace("siteId=S", `siteId=${site.id}`));
    expect(res.status).toBe(status);
    expect(res.body.error.path).toBe(field);
  });

  it("answers another workspace's site, experience and segment as unknown", async () => {
    const site = await createSite({}, "ws_other");
    const exp = await adminCall("/admin/api/experiences", { method: "POST", workspace: "ws_other", body: JSON.stringify({ name: "X", slot: "s", variants: [{ id: "a", weight: 1, content: { text: "A" } }] }) });
    const { id } = (await exp.json()) as { id: string };
    expect((await getJson(`/admin/api/reports/consent?siteId=${site.id}`)).status).toBe(404);
    expect((await getJson(`/admin/api/experiences/${id}/results`)).status).toBe(404);
    expect((await getJson(`/admin/api/experiences/${id}/results`, { workspace: "ws_other" })).status).toBe(200);
  });

  it("needs a token, and is in the OpenAPI document", async () => {
    expect((await call("/admin/api/reports/consent?siteId=x")).status).toBe(401);
    const doc = (await (await call("/admin/api/openapi.json")).json()) as { paths: Record<string, Record<string, { parameters?: { name: string }[] }>> };
    for (const path of ["/admin/api/reports/attribution", "/admin/api/reports/funnel", "/admin/api/reports/consent", "/admin/api/experiences/{id}/results", "/admin/api/profiles/journey", "/admin/api/segments/{id}/history"]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    expect(doc.paths["/admin/api/reports/attribution"]!.get!.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(["siteId", "conversion", "model", "lookback", "by", "from", "to"]));
  });
});
