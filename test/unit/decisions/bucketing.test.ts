// Bucketing: stable, uniform, weights respected (chi-square goodness of fit at p = 0.001 over
// 20,000 sequential ids, the hardest case for a weak hash), holdout share within a binomial bound,
// holdout independent of the variant split, and golden values pinned.
import { describe, expect, it } from "vitest";
import { bucket, hash32, inHoldout, pickVariant } from "../../../worker/decisions/bucketing";

const N = 20_000;
const ids = Array.from({ length: N }, (_, i) => `demo:anon:${i}`);

/** Pearson's chi-square statistic of observed counts against expected shares. */
function chiSquare(observed: number[], shares: number[]): number {
  const total = observed.reduce((a, b) => a + b, 0);
  return observed.reduce((sum, o, i) => sum + (o - total * shares[i]!) ** 2 / (total * shares[i]!), 0);
}
/** Critical values of chi-square at p = 0.001, by degrees of freedom. */
const CRITICAL_001: Record<number, number> = { 1: 10.828, 2: 13.816, 3: 16.266, 9: 27.877 };

describe("bucketing", () => {
  it("is stable and in [0, 1)", () => {
    expect(hash32("")).toBe(hash32(""));
    expect(bucket("k", "e", "variant")).toBe(bucket("k", "e", "variant"));
    for (const id of ids.slice(0, 1000)) {
      const b = bucket(id, "exp", "variant");
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(1);
    }
  });

  // Golden values: a change to the hash would silently move every visitor not yet exposed.
  it.each([
    ["", 2872998923],
    ["a", 444641715],
    ["abc", 482950588],
    ["demo:anon:0", 2210922880],
    ["demo:anon:1", 663863863],
    ["variant:exp_1:demo:anon:abc", 3014402941],
    ["é", 3136788073],
    ["😀", 1787143206],
  ])("hash32(%j) is %i", (text, golden) => {
    expect(hash32(text)).toBe(golden);
  });

  it("places a known visitor where the doc comments say", () => {
    expect(bucket("demo:anon:abc", "exp_1", "variant")).toBe(3014402941 / 2 ** 32);
    expect(bucket("demo:anon:abc", "exp_1", "variant").toFixed(4)).toBe("0.7018");
    expect(bucket("demo:anon:abc", "exp_1", "holdout")).toBe(0.6159925248939544);
    expect(pickVariant("demo:anon:abc", "exp_1", [{ id: "a", weight: 50 }, { id: "b", weight: 50 }])!.id).toBe("b");
    expect(inHoldout("demo:anon:abc", "exp_1", 0.6)).toBe(false);
    expect(inHoldout("demo:anon:abc", "exp_1", 0.62)).toBe(true);
  });

  it("assigns the first 20 sequential ids the variants and holdout it always has", () => {
    const split = [{ id: "a", weight: 50 }, { id: "b", weight: 30 }, { id: "c", weight: 20 }];
    expect(ids.slice(0, 20).map((id) => pickVariant(id, "exp-split", split)!.id).join("")).toBe("aaaaaabababaaacacbca");
    expect(ids.slice(0, 20).map((id) => (inHoldout(id, "exp-holdout", 0.5) ? "h" : ".")).join("")).toBe("h.hh..h.h.hh..h...hh");
  });

  it("depends on the experience and on the salt", () => {
    const same = ids.slice(0, 1000).filter((id) => bucket(id, "exp-1", "variant") === bucket(id, "exp-2", "variant"));
    expect(same.length).toBeLessThan(5);
    const holdoutVsVariant = ids.slice(0, 1000).filter((id) => bucket(id, "exp", "holdout") === bucket(id, "exp", "variant"));
    expect(holdoutVsVariant.length).toBeLessThan(5);
  });

  it.each([
    { name: "10 equal deciles", weights: Array(10).fill(1) },
    { name: "50/30/20", weights: [50, 30, 20] },
    { name: "4 × 25", weights: [25, 25, 25, 25] },
    { name: "90/10", weights: [9, 1] },
  ])("splits 20,000 ids by weight: $name (chi-square, p = 0.001)", ({ weights }) => {
    const variants = weights.map((weight: number, i: number) => ({ id: "v" + i, weight }));
    const total = weights.reduce((a: number, b: number) => a + b, 0);
    const counts = variants.map(() => 0);
    for (const id of ids) counts[variants.indexOf(pickVariant(id, "exp-split", variants)!)]!++;
    const stat = chiSquare(counts, weights.map((w: number) => w / total));
    expect(stat).toBeLessThan(CRITICAL_001[weights.length - 1]!);
  });

  it.each([0.05, 0.1, 0.5])("holds out a %s share of 20,000 ids (within 4 binomial standard deviations)", (share) => {
    const held = ids.filter((id) => inHoldout(id, "exp-holdout", share)).length;
    const sd = Math.sqrt(N * share * (1 - share));
    expect(Math.abs(held - N * share)).toBeLessThan(4 * sd);
  });

  it("holds out nobody at share 0 and everybody at share 1", () => {
    expect(ids.slice(0, 500).some((id) => inHoldout(id, "e", 0))).toBe(false);
    expect(ids.slice(0, 500).every((id) => inHoldout(id, "e", 1))).toBe(true);
  });

  it("the variant split inside and outside the holdout is the same (independent salts)", () => {
    const variants = [{ id: "a", weight: 1 }, { id: "b", weight: 1 }];
    const inside = ids.filter((id) => inHoldout(id, "exp-i", 0.5));
    const shareA = inside.filter((id) => pickVariant(id, "exp-i", variants)!.id === "a").length;
    expect(chiSquare([shareA, inside.length - shareA], [0.5, 0.5])).toBeLessThan(CRITICAL_001[1]!);
  });

  it("has no variant for no weight", () => {
    expect(pickVariant("k", "e", [])).toBeUndefined();
  });
});
