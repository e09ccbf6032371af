// Scores in the profile: computed on every event with the trained model, equal to what the trainer
// computes from the archive for the same visitor (one feature function), moving a segment on the
// score in and out, and absent without personalisation consent.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { buildDataset, type Goal } from "../../../worker/predictions/dataset";
import { percentileOf, scoreVector } from "../../../worker/predictions/model";
import { getPrediction, modelOf } from "../../../worker/store/predictions";
import { adminCall, createSite, drainQueue, serverPost, type TestSite } from "../helpers";
import { HOUR, synthetic, trainThroughApi, writeArchive, type PredictionBody } from "./archive";

const WS = "ws_pred_score";
type Scores = Record<string, { score: number; percentile: number; scoredAt: string }>;
type Profile = { key: string; segments: string[]; predictions: Scores };

let site: TestSite;
let prediction: PredictionBody;

const profileOf = (userId: string) => adminCall(`/admin/api/profiles/lookup?userId=${userId}`, { workspace: WS }).then((r) => r.json<Profile>());
type Decisions = Record<string, { experience: string; content: Record<string, unknown> }>;
/** A server event, asking for the `hero` slot's decision in the same response. */
const track = (userId: string, event: string, at: number, extra: Record<string, unknown> = {}) =>
  serverPost(site, "/v1/track?decide=hero", { userId, event, timestamp: new Date(at).toISOString(), context: { device: { type: "mobile" } }, ...extra }).then((r) => r.json<{ decisions?: Decisions }>());

beforeAll(async () => {
  site = await createSite({}, WS);
  // Views make a purchase likely; unsubscribing makes it (almost) impossible.
  const data = synthetic(3000, 11, Date.now(), (v, rand) => rand() < (v.unsubscribed ? 0.01 : v.views >= 3 ? 0.9 : 0.05));
  await writeArchive(WS, data.profiles);
  prediction = await trainThroughApi(WS, { name: "Likely to buy", goal: { event: "Order Completed" }, within: "30d" });
  expect(prediction.status).toBe("ready");
}, 120_000);

describe("scores on the profile", () => {
  it("are computed on every event and agree with the trainer's for the same visitor", async () => {
    const now = Date.now();
    const res = await serverPost(site, "/v1/batch", {
      batch: [
        { type: "page", userId: "u-agree", name: "Home", timestamp: new Date(now - 3 * 24 * HOUR).toISOString(), context: { device: { type: "mobile" }, campaign: { source: "newsletter" } } },
        { type: "track", userId: "u-agree", event: "Product Viewed", properties: { category: "shoes" }, timestamp: new Date(now - 2 * 24 * HOUR).toISOString(), context: { device: { type: "mobile" } } },
        { type: "track", userId: "u-agree", event: "Product Viewed", properties: { category: "shoes", revenue: 12 }, timestamp: new Date(now - HOUR).toISOString(), context: { device: { type: "mobile" } } },
      ],
    });
    expect(res.status).toBe(200);
    const profile = await profileOf("u-agree");
    const held = profile.predictions[prediction.id]!;
    expect(held.score).toBeGreaterThan(0);
    expect(held.score).toBeLessThan(1);
    expect(held.percentile).toBeGreaterThanOrEqual(0);
    expect(held.percentile).toBeLessThanOrEqual(100);

    // The trainer's view of the same visitor: its archived events, read as at the moment the profile scored.
    await drainQueue();
    const row = (await getPrediction(env.DB, WS, prediction.id))!;
    const model = modelOf(row)!;
    const scoredAt = Date.parse(held.scoredAt);
    const data = await buildDataset(env.DB, { workspaceId: WS, cutoff: scoredAt + 1, labelEnd: scoredAt + 1 }, model.spec, row.goal as Goal);
    const r = data.keys.indexOf(`${WS}:user:u-agree`);
    expect(r).toBeGreaterThanOrEqual(0);
    const features = data.x.subarray(r * data.width, (r + 1) * data.width);
    // Features the profile and the archive both saw: 2 views in 30d, 1 in 7d, a mobile device.
    expect(features[data.names.indexOf("count:Product Viewed:30d")]).toBeCloseTo(Math.log1p(2), 6);
    expect(features[data.names.indexOf("device:mobile")]).toBe(1);
    const trainerScore = scoreVector(model, features);
    expect(held.score).toBeCloseTo(trainerScore, 5);
    expect(held.percentile).toBe(percentileOf(model.quantiles, trainerScore));

    // An access request shows the scores too: they are the visitor's data.
    const doc = await adminCall("/admin/api/privacy/export", { method: "POST", workspace: WS, body: JSON.stringify({ userId: "u-agree" }) }).then((r) => r.json<{ profiles: { key: string; data: { predictions: Scores } }[] }>());
    expect(doc.profiles.find((p) => p.key === `${WS}:user:u-agree`)?.data.predictions).toEqual(profile.predictions);
  });

  it("move with events, and a segment on the score (and an experience for it) enters and leaves with them", async () => {
    const segment = await adminCall("/admin/api/segments", {
      method: "POST",
      workspace: WS,
      body: JSON.stringify({ name: "Likely buyers", rule: { prediction: prediction.id, op: "gte", value: 0.5 } }),
    }).then((r) => r.json<{ id: string }>());
    const experience = await adminCall("/admin/api/experiences", {
      method: "POST",
      workspace: WS,
      body: JSON.stringify({ name: "Nudge", slot: "hero", status: "live", audience: { segment: segment.id }, variants: [{ id: "a", weight: 1, content: { text: "Free shipping today" } }] }),
    }).then((r) => r.json<{ id: string }>());
    const now = Date.now();
    expect((await track("u-moves", "Signed Up", now - 2 * HOUR)).decisions).toEqual({});
    const low = await profileOf("u-moves");
    expect(low.predictions[prediction.id]!.score).toBeLessThan(0.5);
    expect(low.segments).not.toContain(segment.id);

    let decided: { decisions?: Decisions } = {};
    for (let i = 0; i < 4; i++) decided = await track("u-moves", "Product Viewed", now - HOUR + i * 60_000, { properties: { category: "shoes" } });
    // The event that raises the score past the threshold gets the targeted content in its own response.
    expect(decided.decisions).toEqual({ hero: expect.objectContaining({ experience: experience.id, content: { text: "Free shipping today" } }) });
    const high = await profileOf("u-moves");
    expect(high.predictions[prediction.id]!.score).toBeGreaterThanOrEqual(0.5);
    expect(high.predictions[prediction.id]!.percentile).toBeGreaterThan(low.predictions[prediction.id]!.percentile);
    expect(high.segments).toContain(segment.id);

    expect((await track("u-moves", "Unsubscribed", now - 10_000)).decisions).toEqual({});
    const gone = await profileOf("u-moves");
    expect(gone.predictions[prediction.id]!.score).toBeLessThan(0.5);
    expect(gone.segments).not.toContain(segment.id);

    const explained = await adminCall(`/admin/api/segments/${segment.id}/explain?userId=u-moves`, { workspace: WS }).then((r) => r.json<{ explanation: { kind: string; result: boolean; summary: string } }>());
    expect(explained.explanation).toMatchObject({ kind: "prediction", result: false });
    expect(explained.explanation.summary).toContain(`prediction ${prediction.id} score is`);
  });

  it("a segment on a prediction that does not exist is refused", async () => {
    const res = await adminCall("/admin/api/segments", { method: "POST", workspace: WS, body: JSON.stringify({ name: "x", rule: { prediction: "pred_nope", percentile: { op: "gte", value: 90 } } }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_rule", message: expect.stringContaining("pred_nope") } });
  });

  it("a profile without personalisation consent is not scored and is in no prediction segment", async () => {
    const segment = await adminCall("/admin/api/segments", {
      method: "POST",
      workspace: WS,
      body: JSON.stringify({ name: "Anyone scored", rule: { prediction: prediction.id, op: "gte", value: 0 } }),
    }).then((r) => r.json<{ id: string }>());
    const refused = { consent: { categoryPreferences: { analytics: true, personalization: false } }, device: { type: "mobile" } };
    const now = Date.now();
    for (let i = 0; i < 4; i++) await serverPost(site, "/v1/track", { userId: "u-noconsent", event: "Product Viewed", timestamp: new Date(now - HOUR + i).toISOString(), context: refused });
    const profile = await profileOf("u-noconsent");
    expect(profile.key).toBe(`${WS}:user:u-noconsent`);
    expect(profile.predictions).toEqual({});
    expect(profile.segments).toEqual([]);

    // The same visitor granting it is scored from then on; withdrawing it drops the score again.
    const granted = { ...refused, consent: { categoryPreferences: { analytics: true, personalization: true } } };
    await serverPost(site, "/v1/track", { userId: "u-noconsent", event: "Product Viewed", timestamp: new Date(now).toISOString(), context: granted });
    const scored = await profileOf("u-noconsent");
    expect(scored.predictions[prediction.id]!.score).toBeGreaterThan(0);
    expect(scored.segments).toContain(segment.id);
    await serverPost(site, "/v1/track", { userId: "u-noconsent", event: "Product Viewed", timestamp: new Date(now + 1).toISOString(), context: refused });
    const withdrawn = await profileOf("u-noconsent");
    expect(withdrawn.predictions).toEqual({});
    expect(withdrawn.segments).toEqual([]);
  });
});
