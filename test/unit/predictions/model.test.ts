// The pure parts of predictions: the feature function at its window edges, the metrics on inputs
// with a known answer, the fit recovering a known coefficient, the percentile table, the split.
import { describe, expect, it } from "vitest";
import { DAY_MS, featureNames, featureVector, type FeatureSpec } from "../../../worker/predictions/features";
import { auc, calibration, fitLogistic, fnv1a, isHeldOut, liftByDecile, logLoss, percentileOf, quantiles, scoreVector } from "../../../worker/predictions/model";
import { scoreProfile, type ModelDef } from "../../../worker/predictions/score";

const NOW = Date.UTC(2025, 0, 15, 12);
const spec: FeatureSpec = { version: 1, events: ["Product Viewed", "Order Completed"], sources: ["google", "newsletter"], devices: ["mobile", "desktop"] };

describe("featureVector", () => {
  it("names its features in vector order", () => {
    expect(featureNames(spec)).toEqual([
      "count:Product Viewed:7d",
      "count:Product Viewed:30d",
      "count:Order Completed:7d",
      "count:Order Completed:30d",
      "recency_days",
      "tenure_days",
      "active_days:30d",
      "revenue:30d",
      "source:google",
      "source:newsletter",
      "device:mobile",
      "device:desktop",
    ]);
  });

  it("counts in windows whose edge is exclusive, ignores the future, compresses with log1p", () => {
    const x = featureVector(
      spec,
      {
        events: [
          { name: "Product Viewed", at: NOW },
          { name: "Product Viewed", at: NOW - 7 * DAY_MS + 1 },
          { name: "Product Viewed", at: NOW - 7 * DAY_MS }, // out of 7d, in 30d
          { name: "Product Viewed", at: NOW - 30 * DAY_MS }, // out of both
          { name: "Product Viewed", at: NOW + 1 }, // after now: not seen yet
          { name: "Order Completed", at: NOW - 2 * DAY_MS, revenue: 30 },
          { name: "Order Completed", at: NOW - 2 * DAY_MS, revenue: -5 }, // a refund does not lower revenue
          { name: "Unknown", at: NOW - DAY_MS, revenue: 10 },
        ],
        firstSeen: NOW - 40 * DAY_MS,
        lastSeen: NOW - DAY_MS,
        firstSource: "newsletter",
        device: "mobile",
      },
      NOW,
    );
    expect(Array.from(x)).toEqual([
      Math.log1p(2),
      Math.log1p(3),
      Math.log1p(2),
      Math.log1p(2),
      Math.log1p(1),
      Math.log1p(40),
      // distinct days with an event in the 30 days: NOW, NOW−1d, NOW−2d, NOW−7d(+1), NOW−7d
      new Set([NOW, NOW - DAY_MS, NOW - 2 * DAY_MS, NOW - 7 * DAY_MS + 1, NOW - 7 * DAY_MS].map((t) => Math.floor(t / DAY_MS))).size,
      Math.log1p(40),
      0,
      1,
      1,
      0,
    ]);
  });

  it("a visitor never seen counts as long gone and new", () => {
    const x = featureVector(spec, { events: [] }, NOW);
    expect(x[4]).toBeCloseTo(Math.log1p(365), 12);
    expect(x[5]).toBe(0);
  });
});

describe("metrics", () => {
  it("AUC: the share of (positive, negative) pairs ranked right, ties half", () => {
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(auc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])).toBe(1);
    expect(auc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0])).toBe(0.5);
    expect(auc([0.5, 0.5], [1, 1])).toBeNaN();
  });

  it("log loss, lift by decile, calibration", () => {
    expect(logLoss([0.5, 0.5], [1, 0])).toBeCloseTo(Math.LN2, 12);
    expect(logLoss([0.9, 0.2], [1, 0])).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8)) / 2, 12);
    // 100 visitors, the 10 best-scored are the 10 who converted: lift 10 in the top decile, 0 below.
    const scores = Array.from({ length: 100 }, (_, i) => 1 - i / 100);
    const labels = scores.map((_, i) => (i < 10 ? 1 : 0));
    expect(liftByDecile(scores, labels)).toEqual([10, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(calibration([0.2, 0.4], [0, 1])).toEqual({ predicted: 0.3, observed: 0.5 });
  });

  it("percentiles from the training scores' quantiles", () => {
    const table = quantiles(Array.from({ length: 1000 }, (_, i) => i / 1000), 100);
    expect(table).toHaveLength(100);
    expect(percentileOf(table, -1)).toBe(0);
    expect(percentileOf(table, 0.5)).toBe(50);
    expect(percentileOf(table, 0.951)).toBe(95);
    expect(percentileOf(table, 2)).toBe(100);
    expect(percentileOf([], 0.5)).toBe(0);
  });
});

describe("fitLogistic", () => {
  it("recovers a known coefficient and intercept; a feature with no signal gets none", () => {
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const rows = 20_000;
    const x = new Float32Array(rows * 2);
    const y = new Uint8Array(rows);
    for (let r = 0; r < rows; r++) {
      // x0 ~ standard normal (Box–Muller), x1 noise; log-odds = 1.5·x0 − 0.5
      const z = Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
      x[r * 2] = z;
      x[r * 2 + 1] = rand();
      y[r] = rand() < 1 / (1 + Math.exp(-(1.5 * z - 0.5))) ? 1 : 0;
    }
    const model = fitLogistic({ x, y, rows, width: 2 }, Uint32Array.from({ length: rows }, (_, i) => i), { l2: 0 });
    // Weights are on standardised features: the raw coefficient is weight / scale.
    expect(model.weights[0]! / model.scale[0]!).toBeCloseTo(1.5, 0);
    expect(Math.abs(model.weights[0]! / model.scale[0]! - 1.5)).toBeLessThan(0.1);
    expect(Math.abs(model.weights[1]!)).toBeLessThan(0.05);
    const intercept = model.intercept - model.weights.reduce((sum, w, j) => sum + (w * model.mean[j]!) / model.scale[j]!, 0);
    expect(Math.abs(intercept - -0.5)).toBeLessThan(0.1);
  });
});

describe("scoring", () => {
  it("the profile's scorer is the model applied to the feature vector, with its percentile", () => {
    const model: ModelDef = { id: "pred_x", version: 1, spec, mean: new Array(12).fill(0), scale: new Array(12).fill(1), weights: [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], intercept: -1, quantiles: [0.1, 0.2, 0.3, 0.4] };
    const input = { events: [{ name: "Product Viewed", at: NOW - DAY_MS }], lastSeen: NOW - DAY_MS };
    const expected = 1 / (1 + Math.exp(-(2 * Math.log1p(1) - 1)));
    expect(scoreVector(model, featureVector(spec, input, NOW))).toBeCloseTo(expected, 12);
    expect(scoreProfile([model], input, NOW)).toEqual({ pred_x: { score: Math.round(expected * 1e6) / 1e6, percentile: 100 } });
  });
});

describe("the held-out split", () => {
  it("is FNV-1a of the profile key (pinned: changing it would reshuffle every model's test set)", () => {
    expect(fnv1a("")).toBe(0x811c9dc5);
    expect(fnv1a("a")).toBe(0xe40c292c);
    expect(fnv1a("foobar")).toBe(0xbf9cf968);
    expect(["ws:user:p00000", "ws:user:p00001", "ws:user:p00004", "ws:user:p00005"].map(isHeldOut)).toEqual([false, true, true, false]);
  });
});
