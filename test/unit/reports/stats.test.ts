// The statistics against SciPy (stats.fixture.json, written by stats_fixture.py — see its header).
import { describe, expect, it } from "vitest";
import { chanceToBeat, chiSquareSurvival, srm, uplift } from "../../../worker/reports/stats";
import fixture from "./stats.fixture.json";

describe("statistics match SciPy", () => {
  it.each(fixture.uplift)("uplift of $variant.converted/$variant.exposed over $control.converted/$control.exposed", (c) => {
    const result = uplift(c.control, c.variant)!;
    expect(result.relative).toBeCloseTo(c.relative, 10);
    expect(result.ci95[0]).toBeCloseTo(c.ci95[0]!, 10);
    expect(result.ci95[1]).toBeCloseTo(c.ci95[1]!, 10);
  });

  it.each(fixture.chanceToBeat)("chance that $variant.converted/$variant.exposed beats $control.converted/$control.exposed", (c) => {
    expect(Math.abs(chanceToBeat(c.control, c.variant) - c.value)).toBeLessThan(5e-4);
  });

  it.each(fixture.srm)("SRM of $observed against $shares", (c) => {
    const result = srm(c.observed, c.shares);
    expect(result.chiSquare).toBeCloseTo(c.chiSquare, 8);
    expect(result.pValue).toBeCloseTo(c.pValue, 10);
    expect(result.pValue / c.pValue).toBeCloseTo(1, 6);
    expect(result.flagged).toBe(c.pValue < 0.001);
  });
});

describe("statistics", () => {
  it("flags a 53/47 split of 10,000 exposures meant to be 50/50, and not a 51/49 one", () => {
    expect(srm([5300, 4700], [1, 1]).flagged).toBe(true);
    expect(srm([5100, 4900], [1, 1]).flagged).toBe(false);
  });

  it("has no uplift without a control rate, and no SRM without exposures", () => {
    expect(uplift({ exposed: 100, converted: 0 }, { exposed: 100, converted: 5 })).toBeNull();
    expect(uplift({ exposed: 0, converted: 0 }, { exposed: 100, converted: 5 })).toBeNull();
    expect(srm([0, 0], [1, 1])).toEqual({ chiSquare: 0, pValue: 1, flagged: false });
  });

  it("is deterministic and symmetric", () => {
    const a = { exposed: 1000, converted: 100 };
    const b = { exposed: 1000, converted: 120 };
    expect(chanceToBeat(a, b)).toBe(chanceToBeat(a, b));
    expect(chanceToBeat(a, b) + chanceToBeat(b, a)).toBeCloseTo(1, 3);
  });

  it("chi-square survival at textbook critical values (df 1: 3.841 → 0.05; df 2: 13.816 → 0.001)", () => {
    expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 9);
    expect(chiSquareSurvival(13.815510557964274, 2)).toBeCloseTo(0.001, 9);
  });
});
