// Attribution credit by hand: each model on paths of 0, 1, 2, 3 and 5 touches, and shares that sum
// to the conversion and to its revenue exactly.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { creditConversion, CREDIT_UNIT, largestRemainder, MODELS, modelWeights, type Model, type Touch } from "../../../worker/reports/credit";

const DAY = 86_400_000;
const AT = Date.UTC(2026, 10, 30, 12);
const names = ["A", "B", "C", "D", "E"];
/** n touches A, B, C… one day apart, the last one a day before the conversion. */
const path = (n: number): Touch[] => names.slice(0, n).map((source, i) => ({ at: AT - (n - i) * DAY, source, medium: "cpc", campaign: "spring" }));
const bySource = (model: Model, n: number, revenue: number) =>
  Object.fromEntries(creditConversion(model, path(n), AT, revenue, 30 * DAY).map((r) => [r.source, [r.credit, r.revenue]]));

// [model, touches, revenue in cents, {source: [millionths of a conversion, cents]}]
const cases: [Model, number, number, Record<string, [number, number]>][] = [
  ["first", 0, 1000, { "(direct)": [1_000_000, 1000] }],
  ["last", 0, 1000, { "(direct)": [1_000_000, 1000] }],
  ["linear", 0, 1000, { "(direct)": [1_000_000, 1000] }],
  ["position", 0, 1000, { "(direct)": [1_000_000, 1000] }],
  ["first", 1, 1001, { A: [1_000_000, 1001] }],
  ["last", 1, 1001, { A: [1_000_000, 1001] }],
  ["linear", 1, 1001, { A: [1_000_000, 1001] }],
  ["position", 1, 1001, { A: [1_000_000, 1001] }],
  ["first", 2, 1001, { A: [1_000_000, 1001] }],
  ["last", 2, 1001, { B: [1_000_000, 1001] }],
  ["linear", 2, 1001, { A: [500_000, 501], B: [500_000, 500] }],
  ["position", 2, 1001, { A: [500_000, 501], B: [500_000, 500] }],
  ["first", 3, 1000, { A: [1_000_000, 1000] }],
  ["last", 3, 1000, { C: [1_000_000, 1000] }],
  ["linear", 3, 1000, { A: [333_334, 334], B: [333_333, 333], C: [333_333, 333] }],
  ["position", 3, 1000, { A: [400_000, 400], B: [200_000, 200], C: [400_000, 400] }],
  ["first", 5, 999, { A: [1_000_000, 999] }],
  ["last", 5, 999, { E: [1_000_000, 999] }],
  ["linear", 5, 999, { A: [200_000, 200], B: [200_000, 200], C: [200_000, 200], D: [200_000, 200], E: [200_000, 199] }],
  // 40/20/40: 6, 1, 1, 1 and 6 parts of 15. 999 × 6/15 = 399.6 and 999/15 = 66.6: floors 996, the
  // three cents left go to the equal remainders in path order (A, B, C).
  ["position", 5, 999, { A: [400_000, 400], B: [66_667, 67], C: [66_667, 67], D: [66_666, 66], E: [400_000, 399] }],
];

describe("creditConversion", () => {
  it.each(cases)("%s with %i touches, %i cents", (model, n, revenue, expected) => {
    expect(bySource(model, n, revenue)).toEqual(expected);
  });

  it("breaks a tie between touches of the same instant by their id, whatever order they come in", () => {
    const news = { at: AT, id: "t10", source: "news", medium: "email", campaign: "n" };
    const google = { at: AT, id: "t2", source: "google", medium: "cpc", campaign: "x" };
    for (const touches of [[news, google], [google, news]]) {
      expect(creditConversion("last", touches, AT, 100, DAY).map((r) => r.source)).toEqual(["google"]);
      expect(creditConversion("first", touches, AT, 100, DAY).map((r) => r.source)).toEqual(["news"]);
    }
  });

  it("position gives the middle touches 20% between them, not 20% each or 20%/n (credits sum to the revenue)", () => {
    for (let n = 3; n <= 12; n++) {
      const rows = creditConversion("position", Array.from({ length: n }, (_, i) => ({ at: AT - (n - i), source: `s${i}`, medium: "m", campaign: "c" })), AT, 12_345, DAY);
      expect(rows.reduce((a, r) => a + r.revenue, 0)).toBe(12_345);
      expect(rows.reduce((a, r) => a + r.credit, 0)).toBe(CREDIT_UNIT);
      const middle = rows.slice(1, -1).reduce((a, r) => a + r.credit, 0);
      expect(middle).toBeGreaterThanOrEqual(200_000 - n);
      expect(middle).toBeLessThanOrEqual(200_000 + n);
    }
  });

  it("credits of every model sum to the conversion and its revenue to the cent, on awkward amounts", () => {
    for (const model of MODELS) {
      for (let n = 0; n <= 9; n++) {
        for (const revenue of [0, 1, 7, 999, 100_003, 123_456_789]) {
          const rows = creditConversion(model, path(Math.min(n, 5)), AT, revenue, 30 * DAY);
          expect(rows.reduce((a, r) => a + r.revenue, 0)).toBe(revenue);
          expect(rows.reduce((a, r) => a + r.credit, 0)).toBe(CREDIT_UNIT);
        }
      }
    }
  });

  it("counts only touches inside the lookback and before the conversion; a path of one group is one row", () => {
    const touches: Touch[] = [
      { at: AT - 40 * DAY, source: "old", medium: "email", campaign: "x" },
      { at: AT - 2 * DAY, source: "google", medium: "cpc", campaign: "spring" },
      { at: AT - DAY, source: "google", medium: "cpc", campaign: "spring" },
      { at: AT + DAY, source: "later", medium: "social", campaign: "y" },
    ];
    expect(creditConversion("linear", touches, AT, 500, 30 * DAY)).toEqual([{ source: "google", medium: "cpc", campaign: "spring", credit: 1_000_000, revenue: 500 }]);
    expect(creditConversion("first", touches, AT, 500, 7 * DAY)[0]!.source).toBe("google");
    expect(creditConversion("first", touches, AT, 500, 60 * DAY)[0]!.source).toBe("old");
  });
});

describe("largestRemainder and modelWeights", () => {
  it.each([
    [100, [1, 1, 1], [34, 33, 33]],
    [2, [1, 1, 1], [1, 1, 0]],
    [10, [0, 1, 0], [0, 10, 0]],
    [7, [2, 1, 2], [3, 1, 3]],
    [0, [1, 1], [0, 0]],
  ])("%i by %j is %j", (amount, weights, shares) => {
    expect(largestRemainder(amount, weights)).toEqual(shares);
  });

  it.each([
    ["position", 4, [4, 1, 1, 4]],
    ["position", 2, [1, 1]],
    ["linear", 3, [1, 1, 1]],
    ["first", 3, [1, 0, 0]],
    ["last", 3, [0, 0, 1]],
    ["last", 0, []],
  ] as [Model, number, number[]][])("%s over %i touches weighs %j", (model, n, weights) => {
    expect(modelWeights(model, n)).toEqual(weights);
  });

  /** The method as written down: every position ranked by its remainder (ties: the earlier), one unit each. */
  const ranked = (amount: number, weights: number[]) => {
    const total = weights.reduce((a, b) => a + b, 0);
    if (total <= 0 || amount === 0) return weights.map(() => 0);
    const shares = weights.map((w) => Math.floor((amount * w) / total));
    let left = amount - shares.reduce((a, b) => a + b, 0);
    const order = weights.map((w, i) => ({ i, rest: (amount * w) % total })).sort((a, b) => b.rest - a.rest || a.i - b.i);
    for (const { i } of order) if (left > 0 && weights[i]! > 0) (shares[i]!++, left--);
    return shares;
  };

  it("ranks remainders as ranking every position would, for any weights", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e9 }), fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 30 }), (amount, weights) => {
        expect(largestRemainder(amount, weights)).toEqual(ranked(amount, weights));
      }),
      { numRuns: 500 },
    );
  });

  it("credits a path as the weights' shares summed by source, medium and campaign, for every model", () => {
    const touch = fc.record({ minutes: fc.integer({ min: -60 * 24 * 40, max: 60 }), source: fc.constantFrom("a", "b", "c"), campaign: fc.constantFrom("x", "y") });
    fc.assert(
      fc.property(fc.constantFrom(...MODELS), fc.array(touch, { maxLength: 25 }), fc.integer({ min: 0, max: 1e7 }), fc.constantFrom(1, 7, 30), (model, items, revenue, days) => {
        const touches: Touch[] = items.map((t) => ({ at: AT + t.minutes * 60_000, source: t.source, medium: "m", campaign: t.campaign }));
        const path = touches.filter((t) => t.at <= AT && t.at >= AT - days * DAY).sort((a, b) => a.at - b.at);
        const weights = modelWeights(model, path.length);
        const [credit, cents] = [ranked(CREDIT_UNIT, weights), ranked(revenue, weights)];
        const expected: Record<string, [number, number]> = {};
        path.forEach((t, i) => {
          if (weights[i] === 0) return;
          const row = (expected[`${t.source}/${t.campaign}`] ??= [0, 0]);
          row[0] += credit[i]!;
          row[1] += cents[i]!;
        });
        if (path.length === 0) expected["(direct)/(none)"] = [CREDIT_UNIT, revenue];
        const rows = creditConversion(model, touches, AT, revenue, days * DAY);
        expect(Object.fromEntries(rows.map((r) => [`${r.source}/${r.campaign}`, [r.credit, r.revenue]]))).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});
