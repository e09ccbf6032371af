// Experiment results through the route: a single-variant personalisation against its holdout, and
// a sample-ratio mismatch that must be flagged. Plus a batch that D1 refuses once, then redelivered.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { PipelineMessage } from "../../../worker/pipeline/messages";
import { adminCall, createSite, eventually, serverPost } from "../helpers";
import { deliver, exposure, getJson, T0, track } from "./helpers";
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import worker from "../../../worker/index";

const WS = "ws_test";

async function experience(body: Record<string, unknown>) {
  const res = await adminCall("/admin/api/experiences", {
    method: "POST",
    body: JSON.stringify({ name: "Test", slot: "hero", status: "live", goal: { event: "Signed Up" }, ...body }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

/** `n` visitors exposed to `variant`, the first `converted` of them converting after it. */
function arm(siteId: string, id: string, variant: string, n: number, converted: number): PipelineMessage[] {
  return Array.from({ length: n }, (_, i) => {
    const user = `${id}-${variant}-${i}`;
    const messages = [exposure(WS, siteId, user, T0 + i, id, variant)];
    if (i < converted) messages.push(track(WS, siteId, user, T0 + i + 60_000, "Signed Up", { revenue: 10 }));
    return messages;
  }).flat();
}

async function deliverAll(messages: PipelineMessage[]) {
  for (let i = 0; i < messages.length; i += 100) await deliver(messages.slice(i, i + 100));
}

describe("experiment results", () => {
  it("report a single-variant personalisation's incrementality against its holdout", async () => {
    const site = await createSite();
    const id = await experience({ holdout: 0.5, variants: [{ id: "on", weight: 1, content: { text: "Hi" } }] });
    await deliverAll([...arm(site.id, id, "on", 120, 24), ...arm(site.id, id, "holdout", 110, 11)]);
    const { status, body } = await getJson(`/admin/api/experiences/${id}/results`);
    expect(status).toBe(200);
    expect(body.control).toBe("holdout");
    expect(body.holdout).toMatchObject({ exposed: 110, converted: 11, rate: 0.1 });
    const [on] = body.variants;
    expect(on).toMatchObject({ id: "on", exposed: 120, converted: 24, rate: 0.2, revenue: 240, revenuePerVisitor: 2 });
    // (0.2 − 0.1) / 0.1, and the normal interval of 0.1 ± 1.96·√(0.2·0.8/120 + 0.1·0.9/110), over 0.1.
    const se = Math.sqrt((0.2 * 0.8) / 120 + (0.1 * 0.9) / 110);
    expect(on.uplift.relative).toBeCloseTo(1, 10);
    expect(on.uplift.ci95[0]).toBeCloseTo((0.1 - 1.959963984540054 * se) / 0.1, 10);
    expect(on.uplift.ci95[1]).toBeCloseTo((0.1 + 1.959963984540054 * se) / 0.1, 10);
    expect(on.chanceToBeat).toBeGreaterThan(0.95);
    expect(body.srm.flagged).toBe(false);
    expect(body.minimumSample.met).toBe(true);
    expect(body.warnings).toEqual([]);
  });

  it("flag exposures that do not match the configured split", async () => {
    const site = await createSite();
    const variants = [{ id: "a", weight: 1, content: { text: "A" } }, { id: "b", weight: 1, content: { text: "B" } }];
    const id = await experience({ variants });
    await deliverAll([...arm(site.id, id, "a", 200, 20), ...arm(site.id, id, "b", 100, 12)]);
    const { body } = await getJson(`/admin/api/experiences/${id}/results`);
    // χ² = (200 − 150)²/150 + (100 − 150)²/150 = 33.3, 1 degree of freedom: p ≈ 7.7e-9.
    expect(body.srm.chiSquare).toBeCloseTo(100 / 3, 10);
    expect(body.srm.pValue).toBeLessThan(1e-8);
    expect(body.srm.flagged).toBe(true);
    expect(body.warnings.map((w: any) => w.code)).toContain("sample_ratio_mismatch");

    const even = await experience({ variants });
    await deliverAll([...arm(site.id, even, "a", 150, 20), ...arm(site.id, even, "b", 140, 12)]);
    expect((await getJson(`/admin/api/experiences/${even}/results`)).body.srm.flagged).toBe(false);
  });
});

describe("claimed exposures", () => {
  it("an Experiment Viewed sent through the collection API is archived but not counted as an exposure", async () => {
    const site = await createSite();
    const id = await experience({ variants: [{ id: "a", weight: 1, content: { text: "A" } }] });
    const res = await serverPost(site, "/v1/track", { userId: "forger", event: "Experiment Viewed", properties: { experiment_id: id, variation_id: "a" } });
    expect(res.status).toBe(200);
    await eventually(
      () => env.DB.prepare("SELECT count(*) AS n FROM events WHERE user_id = 'forger'").first<{ n: number }>(),
      (row) => row!.n === 1,
    );
    const { body } = await getJson(`/admin/api/experiences/${id}/results`);
    expect(body.variants[0].exposed).toBe(0);
  });
});

describe("a batch D1 refuses once", () => {
  it("is written message by message, and its redelivery counts nothing twice", async () => {
    const site = await createSite();
    const id = await experience({ variants: [{ id: "a", weight: 1, content: { text: "A" } }, { id: "b", weight: 1, content: { text: "B" } }] });
    let failures = 1;
    const flaky = new Proxy(env.DB, {
      get(target, property) {
        if (property === "batch") return (statements: D1PreparedStatement[]) => (failures-- > 0 ? Promise.reject(new Error("D1_ERROR: overloaded")) : target.batch(statements));
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const messages = [...arm(site.id, id, "a", 3, 2), ...arm(site.id, id, "b", 2, 1)];
    const batch = createMessageBatch<PipelineMessage>("cohort-events", messages.map((body, i) => ({ id: `flaky-${i}`, timestamp: new Date(), attempts: 1, body })));
    await worker.queue(batch, { ...env, DB: flaky });
    const result = await getQueueResult(batch, createExecutionContext());
    expect(result.retryMessages).toEqual([]);
    await deliver(messages);
    const { body } = await getJson(`/admin/api/experiences/${id}/results`);
    expect(body.variants.map((v: any) => [v.id, v.exposed, v.converted, v.revenue])).toEqual([
      ["a", 3, 2, 20],
      ["b", 2, 1, 10],
    ]);
  });
});
