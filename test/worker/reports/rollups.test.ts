// The report rollups as the queue consumer writes them: a redelivered batch counts once, and events
// that arrive out of order give the same reports as in order.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { reportWrites } from "../../../worker/reports/rollups";
import type { PipelineMessage } from "../../../worker/pipeline/messages";
import { adminCall, createSite } from "../helpers";
import { campaignPage, DAY, dayOf, deliver, exposure, getJson, referredPage, T0, track } from "./helpers";

const WS = "ws_test";

async function attribution(siteId: string, model: string, lookback = "30d", by = "campaign") {
  const q = new URLSearchParams({ siteId, conversion: "Order Completed", model, lookback, by, from: dayOf(T0 - 5 * DAY), to: dayOf(T0 + 5 * DAY) });
  const { status, body } = await getJson(`/admin/api/reports/attribution?${q}`);
  expect(status).toBe(200);
  return body;
}

describe("attribution rollups", () => {
  it("credit the same whether the touches arrive before or after the conversion, and once when redelivered", async () => {
    const site = await createSite();
    const google = campaignPage(WS, site.id, "u-attr", T0 - 2 * DAY, { source: "google", medium: "cpc", name: "spring" });
    const facebook = referredPage(WS, site.id, "u-attr", T0 - DAY, "facebook.com", "social");
    const order = track(WS, site.id, "u-attr", T0, "Order Completed", { revenue: 100.01 });
    // The conversion and the last touch first, then the first touch with both again (a redelivery).
    await deliver([order, facebook]);
    expect((await attribution(site.id, "first")).rows).toEqual([{ source: "facebook.com", medium: "social", campaign: "(none)", conversions: 1, revenue: 100.01 }]);
    await deliver([google, facebook, order]);
    await deliver([order]);

    const linear = await attribution(site.id, "linear");
    expect(linear.rows).toEqual([
      { source: "google", medium: "cpc", campaign: "spring", conversions: 0.5, revenue: 50.01 },
      { source: "facebook.com", medium: "social", campaign: "(none)", conversions: 0.5, revenue: 50 },
    ]);
    expect(linear.total).toEqual({ conversions: 1, revenue: 100.01 });
    expect((await attribution(site.id, "first")).rows.map((r: any) => r.source)).toEqual(["google"]);
    expect((await attribution(site.id, "last")).rows.map((r: any) => r.source)).toEqual(["facebook.com"]);
    // A one-day lookback sees only the facebook visit; by source groups without medium and campaign.
    expect((await attribution(site.id, "linear", "1d", "source")).rows).toEqual([{ source: "facebook.com", medium: null, campaign: null, conversions: 1, revenue: 100.01 }]);
  });

  it("keeps settled credit once a visitor's history is long: a late redelivery of an old conversion changes nothing", async () => {
    const site = await createSite();
    const old = track(WS, site.id, "u-long", T0 - 200 * DAY, "Order Completed", { revenue: 7 });
    await deliver([campaignPage(WS, site.id, "u-long", T0 - 201 * DAY, { source: "old-news" }), old]);
    await deliver([track(WS, site.id, "u-long", T0, "Order Completed", { revenue: 3 })]);
    await deliver([old]);
    const q = new URLSearchParams({ siteId: site.id, conversion: "Order Completed", model: "first", from: dayOf(T0 - 210 * DAY), to: dayOf(T0) });
    const { body } = await getJson(`/admin/api/reports/attribution?${q}`);
    expect(body.rows).toEqual([
      { source: "old-news", medium: "(none)", campaign: "(none)", conversions: 1, revenue: 7 },
      { source: "(direct)", medium: "(none)", campaign: "(none)", conversions: 1, revenue: 3 },
    ]);
  });

  it("credits a conversion with no touch to (direct), revenue from total when there is no revenue", async () => {
    const site = await createSite();
    await deliver([track(WS, site.id, "u-direct", T0, "Order Completed", { total: "19.99" })]);
    expect((await attribution(site.id, "position")).rows).toEqual([{ source: "(direct)", medium: "(none)", campaign: "(none)", conversions: 1, revenue: 19.99 }]);
  });

  it("aborts a batch whose visitor another consumer wrote since it was read, so nothing counts twice", async () => {
    const site = await createSite();
    const first = track(WS, site.id, "u-race", T0, "Order Completed", { revenue: 10 });
    await deliver([first]);
    const second = track(WS, site.id, "u-race", T0 + 1000, "Order Completed", { revenue: 5 });
    const message = { id: "race", timestamp: new Date(), attempts: 1, body: second, ack() {}, retry() {} } as unknown as Message<PipelineMessage>;
    const statements = [...(await reportWrites(env.DB, [message], new Set())).values()].flat();
    // Another batch writes the same visitor in between (here: the same message, delivered concurrently).
    await deliver([second]);
    await expect(env.DB.batch(statements)).rejects.toThrow(/malformed JSON|stale/);
    expect((await attribution(site.id, "last")).total).toEqual({ conversions: 2, revenue: 15 });
  });
});

describe("experiment rollups", () => {
  it("count each visitor once from their first exposure, a goal only after it, whatever the order of arrival", async () => {
    const site = await createSite();
    const res = await adminCall("/admin/api/experiences", {
      method: "POST",
      body: JSON.stringify({
        name: "Hero test",
        slot: "hero",
        status: "live",
        holdout: 0.2,
        goal: { event: "Order Completed", where: [{ property: "total", op: "gte", value: 10 }] },
        variants: [
          { id: "a", weight: 1, content: { text: "A" } },
          { id: "b", weight: 1, content: { text: "B" } },
        ],
      }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    await deliver([
      // v1: exposed to a, converts later (the conversion is delivered before the exposure).
      track(WS, site.id, "v1", T0 + 2000, "Order Completed", { total: 30 }),
      // v2: bought before seeing the experiment: not a conversion.
      track(WS, site.id, "v2", T0 - 1000, "Order Completed", { total: 30 }),
      // v3: a purchase below the goal's where: not a conversion.
      track(WS, site.id, "v3", T0 + 1000, "Order Completed", { total: 5 }),
    ]);
    const exposures = [exposure(WS, site.id, "v1", T0, id, "a"), exposure(WS, site.id, "v2", T0, id, "b"), exposure(WS, site.id, "v3", T0, id, "b"), exposure(WS, site.id, "v4", T0, id, "holdout")];
    await deliver(exposures);
    await deliver([...exposures, track(WS, site.id, "v4", T0 + 5000, "Order Completed", { total: 12.5 }), track(WS, site.id, "v1", T0 + 9000, "Order Completed", { total: 10 })]);

    const { status, body } = await getJson(`/admin/api/experiences/${id}/results`);
    expect(status).toBe(200);
    expect(body.control).toBe("a");
    expect(body.variants.map((v: any) => [v.id, v.exposed, v.converted, v.revenue])).toEqual([
      ["a", 1, 1, 40],
      ["b", 2, 0, 0],
    ]);
    expect(body.holdout).toMatchObject({ exposed: 1, converted: 1, rate: 1, revenue: 12.5 });
    expect(body.variants[0]).toMatchObject({ uplift: null, chanceToBeat: null, revenuePerVisitor: 40 });
    expect(body.variants[1].uplift).toEqual({ relative: -1, ci95: [-1, -1] });
    expect(body.warnings.map((w: any) => w.code)).toEqual(["small_sample"]);
    expect(body.srm.flagged).toBe(false);
    // Outside the days of the first exposures there is nothing.
    const before = await getJson(`/admin/api/experiences/${id}/results?from=2026-01-01&to=2026-01-31`);
    expect(before.body.variants.map((v: any) => v.exposed)).toEqual([0, 0]);
  });
});

describe("segment and consent history", () => {
  it("count each membership change once, sizes as the running sum", async () => {
    const create = await adminCall("/admin/api/segments", { method: "POST", body: JSON.stringify({ name: "Pros", rule: { trait: "plan", op: "eq", value: "pro" } }) });
    expect(create.status).toBe(201);
    const { id } = (await create.json()) as { id: string };
    const change = (user: string, member: boolean, at: number): PipelineMessage => ({ kind: "membership", workspaceId: WS, segmentId: id, profileKey: `${WS}:user:${user}`, member, at });
    const changes = [change("s1", true, T0), change("s2", true, T0 + 1), change("s1", false, T0 + DAY), change("s3", true, T0 + 2 * DAY)];
    await deliver(changes.slice(2));
    await deliver(changes);
    const { status, body } = await getJson(`/admin/api/segments/${id}/history`);
    expect(status).toBe(200);
    expect(body).toEqual([
      { day: dayOf(T0), size: 2, entered: 2, exited: 0 },
      { day: dayOf(T0 + DAY), size: 1, entered: 0, exited: 1 },
      { day: dayOf(T0 + 2 * DAY), size: 2, entered: 1, exited: 0 },
    ]);
    expect((await getJson(`/admin/api/segments/${id}/history?from=${dayOf(T0 + DAY)}`)).body.map((d: any) => d.size)).toEqual([1, 2]);
  });

  it("count each consent change once per purpose, by the signal that decided", async () => {
    const site = await createSite();
    const consent = (id: string, analytics: boolean, source: string, at = T0): PipelineMessage => ({
      kind: "consent",
      id,
      workspaceId: WS,
      siteId: site.id,
      subject: `${WS}:anon:${id}`,
      at,
      signals: {},
      consent: {
        purposes: { necessary: true, analytics, personalization: analytics, advertising: false },
        sources: { analytics: source, personalization: source, advertising: "site" },
        at,
        policyVersion: "1",
      } as any,
    });
    const messages = [consent("c1", true, "explicit"), consent("c2", false, "explicit"), consent("c3", false, "gpc"), consent("c4", true, "region", T0 + DAY)];
    await deliver(messages.slice(0, 2));
    await deliver(messages);
    const { status, body } = await getJson(`/admin/api/reports/consent?siteId=${site.id}&from=${dayOf(T0)}&to=${dayOf(T0 + DAY)}`);
    expect(status).toBe(200);
    expect(body.days[0]).toEqual({
      day: dayOf(T0),
      purposes: {
        analytics: { granted: 1, denied: 2, rate: 1 / 3, bySource: { explicit: { granted: 1, denied: 1 }, gpc: { granted: 0, denied: 1 } } },
        personalization: { granted: 1, denied: 2, rate: 1 / 3, bySource: { explicit: { granted: 1, denied: 1 }, gpc: { granted: 0, denied: 1 } } },
      },
    });
    expect(body.days[1].purposes.analytics).toEqual({ granted: 1, denied: 0, rate: 1, bySource: { region: { granted: 1, denied: 0 } } });
  });
});
