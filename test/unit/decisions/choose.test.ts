// Choosing: priority and ties, audience match, status and schedule, sticky assignments (also after a
// weight change), holdout, exposures, and consent: without personalisation only context-only
// audiences are considered, bucketed by the request key, and the profile is never read.
import { describe, expect, it } from "vitest";
import { decide, HOLDOUT, isContextOnly, isContextOnlyAudience } from "../../../worker/decisions/choose";
import type { Rule } from "../../../worker/segments/schema";
import { decideFor, experience, NOW } from "./helpers";

const hour = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe("priority and audience", () => {
  it("takes the highest-priority live experience whose audience matches", () => {
    const low = experience("low", { priority: 1 });
    const high = experience("high", { priority: 5, audience: { segment: "shoe-fans" } });
    expect(decideFor([low, high], { matching: (id) => id === "shoe-fans" }).decisions.hero?.experience).toBe("high");
    expect(decideFor([low, high], { matching: () => false }).decisions.hero?.experience).toBe("low");
  });

  it("breaks priority ties by id, whatever the order given", () => {
    const b = experience("exp-b", { priority: 3 });
    const a = experience("exp-a", { priority: 3 });
    expect(decideFor([b, a]).decisions.hero?.experience).toBe("exp-a");
    expect(decideFor([a, b]).decisions.hero?.experience).toBe("exp-a");
  });

  it.each(["draft", "paused", "ended"] as const)("ignores a %s experience", (status) => {
    expect(decideFor([experience("e", { status })]).decisions).toEqual({});
  });

  it("a missing audience and {all: true} are everyone; a slot nobody targets is absent", () => {
    const matches = () => {
      throw new Error("not asked for everyone");
    };
    const result = decide({
      experiences: [experience("e1"), experience("e2", { slot: "footer", audience: { all: true } })],
      slots: ["hero", "footer", "sidebar", "hero"],
      profile: { key: "k", assignments: {}, matches },
      contextMatches: matches,
      personalization: true,
      now: NOW,
      requestKey: "r",
    });
    expect(Object.keys(result.decisions).sort()).toEqual(["footer", "hero"]);
    expect(result.exposures).toHaveLength(2);
  });

  it("passes the audience to the profile's matcher", () => {
    const rule: Rule = { trait: "plan", op: "eq", value: "pro" };
    const seen: unknown[] = [];
    decide({
      experiences: [experience("e", { audience: { rule } })],
      slots: ["hero"],
      profile: { key: "k", assignments: {}, matches: (a) => (seen.push(a), false) },
      contextMatches: () => true,
      personalization: true,
      now: NOW,
      requestKey: "r",
    });
    expect(seen).toEqual([{ rule }]);
  });
});

describe("schedule", () => {
  it.each([
    { schedule: { start: iso(NOW + hour) }, live: false },
    { schedule: { start: iso(NOW) }, live: true },
    { schedule: { start: iso(NOW - hour), end: iso(NOW) }, live: false },
    { schedule: { end: iso(NOW + 1) }, live: true },
    { schedule: { start: iso(NOW - hour), end: iso(NOW + hour) }, live: true },
  ])("$schedule → live: $live", ({ schedule, live }) => {
    expect("hero" in decideFor([experience("e", { schedule })]).decisions).toBe(live);
  });
});

describe("assignments", () => {
  it("records the first exposure and a new assignment, then nothing new on the next visit", () => {
    const e = experience("e");
    const first = decideFor([e]);
    const variant = first.decisions.hero!.variant;
    expect(first.assignments).toEqual({ e: variant });
    expect(first.exposures).toEqual([{ experienceId: "e", variantId: variant, first: true, anonymous: false }]);
    const again = decideFor([e], { profile: { key: "demo:anon:v1", assignments: first.assignments, matches: () => true } });
    expect(again.decisions.hero!.variant).toBe(variant);
    expect(again.assignments).toEqual({});
    expect(again.exposures).toEqual([{ experienceId: "e", variantId: variant, first: false, anonymous: false }]);
  });

  it("is sticky after a weight change: exposed visitors keep their variant, new ones follow the weights", () => {
    const before = experience("e");
    const after = experience("e", { variants: [{ id: "a", weight: 1, content: { text: "A" } }, { id: "b", weight: 99_999, content: { text: "B" } }] });
    const keys = Array.from({ length: 200 }, (_, i) => `demo:anon:${i}`);
    let movedIfNotSticky = 0;
    for (const key of keys) {
      const first = decideFor([before], { profile: { key, assignments: {}, matches: () => true } });
      const assignments = first.assignments;
      const later = decideFor([after], { profile: { key, assignments, matches: () => true } });
      expect(later.decisions.hero!.variant).toBe(assignments.e);
      expect(later.decisions.hero!.content).toEqual({ text: assignments.e === "a" ? "A" : "B" });
      const fresh = decideFor([after], { profile: { key, assignments: {}, matches: () => true } });
      if (fresh.decisions.hero!.variant !== assignments.e) movedIfNotSticky++;
    }
    expect(movedIfNotSticky).toBeGreaterThan(50); // the weights really changed the fresh split
  });

  it("re-buckets a visitor whose variant was removed", () => {
    const e = experience("e", { variants: [{ id: "c", weight: 1, content: { text: "C" } }] });
    const result = decideFor([e], { profile: { key: "k", assignments: { e: "a" }, matches: () => true } });
    expect(result.decisions.hero?.variant).toBe("c");
    expect(result.assignments).toEqual({ e: "c" });
    expect(result.exposures[0]).toMatchObject({ first: true });
  });

  it("a holdout visitor gets no decision (no fallback to a lower priority) and the exposure says holdout", () => {
    const held = experience("held", { priority: 9, holdout: 1 });
    const fallback = experience("fallback", { priority: 1 });
    const result = decideFor([held, fallback]);
    expect(result.decisions).toEqual({});
    expect(result.exposures).toEqual([{ experienceId: "held", variantId: HOLDOUT, first: true, anonymous: false }]);
    expect(result.assignments).toEqual({ held: HOLDOUT });
  });

  it("a holdout assignment is sticky even when the holdout share is lowered", () => {
    const result = decideFor([experience("e", { holdout: 0 })], { profile: { key: "k", assignments: { e: HOLDOUT }, matches: () => true } });
    expect(result.decisions).toEqual({});
    expect(result.exposures).toEqual([{ experienceId: "e", variantId: HOLDOUT, first: false, anonymous: false }]);
  });

  it("holds out about the configured share of visitors", () => {
    const e = experience("e", { holdout: 0.2 });
    const n = 5000;
    let held = 0;
    for (let i = 0; i < n; i++) if (!decideFor([e], { profile: { key: `demo:anon:${i}`, assignments: {}, matches: () => true } }).decisions.hero) held++;
    expect(Math.abs(held - n * 0.2)).toBeLessThan(4 * Math.sqrt(n * 0.2 * 0.8));
  });
});

describe("consent", () => {
  const contextRule: Rule = { all: [{ context: "utm.campaign", op: "eq", value: "spring" }, { not: { context: "geo.country", op: "eq", value: "US" } }] };
  const experiences = [
    experience("segment", { priority: 30, audience: { segment: "s" } }),
    experience("trait", { priority: 20, audience: { rule: { trait: "plan", op: "eq", value: "pro" } } }),
    experience("context", { priority: 10, audience: { rule: contextRule }, variants: [{ id: "a", weight: 1, content: { text: "Hi {{trait.firstName|there}}, {{context.utm.campaign}}" } }] }),
    experience("everyone", { priority: 0 }),
  ];
  const profileNeverRead = {
    key: "k",
    assignments: { context: "zzz" },
    traits: { firstName: "Ada" },
    matches: () => {
      throw new Error("the profile must not be read");
    },
  };

  it("without personalisation: only context-only audiences, matched on the context, profile never read", () => {
    const seen: unknown[] = [];
    const result = decide({
      experiences,
      slots: ["hero"],
      profile: profileNeverRead,
      contextMatches: (audience) => (seen.push(audience), true),
      personalization: false,
      now: NOW,
      requestKey: "r-1",
      context: { utm: { campaign: "spring" } },
    });
    expect(seen).toEqual([{ rule: contextRule }]);
    expect(result.decisions.hero).toEqual({ experience: "context", variant: "a", content: { text: "Hi there, spring" } });
    expect(result.assignments).toEqual({});
    expect(result.exposures).toEqual([{ experienceId: "context", variantId: "a", first: false, anonymous: true }]);
  });

  it("without a profile: the same, bucketed by the request key", () => {
    const two = experience("split", { audience: { all: true } });
    const variants = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const result = decide({ experiences: [two], slots: ["hero"], profile: null, contextMatches: () => true, personalization: true, now: NOW, requestKey: "r" + i });
      variants.add(result.decisions.hero!.variant);
    }
    expect([...variants].sort()).toEqual(["a", "b"]);
  });

  it("falls through to the next context-only experience when the context does not match", () => {
    const result = decide({ experiences, slots: ["hero"], profile: null, contextMatches: () => false, personalization: false, now: NOW, requestKey: "r" });
    expect(result.decisions.hero?.experience).toBe("everyone");
  });

  it("with personalisation, traits fill placeholders", () => {
    const result = decideFor([experiences[2]!], { profile: { key: "k", assignments: {}, traits: { firstName: "Ada" }, matches: () => true }, context: { utm: { campaign: "spring" } } });
    expect(result.decisions.hero?.content).toEqual({ text: "Hi Ada, spring" });
  });

  it.each<[Rule, boolean]>([
    [{ context: "geo.country", op: "eq", value: "FR" }, true],
    [{ all: [] }, true],
    [{ any: [{ context: "page.path", op: "startsWith", value: "/shoes" }, { not: { context: "device.type", op: "eq", value: "bot" } }] }, true],
    [{ trait: "plan", op: "eq", value: "pro" }, false],
    [{ event: "Order Completed" }, false],
    [{ metric: { agg: "count", event: "x", within: "7d" }, op: "gt", value: 1 }, false],
    [{ firstSeen: { within: "1d" } }, false],
    [{ lastSeen: { before: "1d" } }, false],
    [{ consent: "analytics" }, false],
    [{ segment: "s" }, false],
    [{ any: [{ context: "geo.country", op: "eq", value: "FR" }, { not: { segment: "s" } }] }, false],
  ])("isContextOnly(%j) → %s", (rule, expected) => {
    expect(isContextOnly(rule)).toBe(expected);
  });

  it("isContextOnlyAudience", () => {
    expect(isContextOnlyAudience(undefined)).toBe(true);
    expect(isContextOnlyAudience({ all: true })).toBe(true);
    expect(isContextOnlyAudience({ segment: "s" })).toBe(false);
    expect(isContextOnlyAudience({ rule: { context: "geo.country", op: "eq", value: "FR" } })).toBe(true);
  });
});
