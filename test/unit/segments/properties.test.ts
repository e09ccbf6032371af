// Property-based tests (fast-check): on random rules and random profiles, with event times packed
// around the window edges, the compiled rule agrees with the naive reference interpreter and with
// explain, and nextChange is never late.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileRule } from "../../../worker/segments/compile";
import { explain } from "../../../worker/segments/explain";
import type { SegmentEvent, SegmentInput } from "../../../worker/segments/input";
import { CONTEXT_PATHS, NUMERIC_OPERATORS, OPERATORS, parseRule, PURPOSES, type Rule } from "../../../worker/segments/schema";
import { nextChange } from "../../../worker/segments/windows";
import { ms, referenceEvaluate } from "./reference";

const NOW = Date.UTC(2025, 0, 15, 12);
const DURATIONS = ["1m", "30m", "1h", "2h", "1d", "7d"];
const EVENT_NAMES = ["A", "B", "Page Viewed"];
const KEYS = ["p", "q", "o.k", "constructor"];

const scalar = fc.oneof(fc.constantFrom("x", "y", "xy", "", "1"), fc.integer({ min: -2, max: 3 }), fc.boolean());
/** Values a trait or property may hold: scalars, lists, objects, null, or nothing. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  scalar,
  fc.constant(null),
  fc.constant(undefined),
  fc.array(scalar, { maxLength: 3 }),
  fc.record({ k: scalar }),
  fc.double({ min: -3, max: 3, noNaN: true }),
);
const bag = fc.dictionary(fc.constantFrom("p", "q", "o", "o.k", "constructor"), anyValue, { maxKeys: 4 });

/** `{op, value}` with a value of the type the operator takes. */
const comparison = fc.constantFrom(...OPERATORS).chain((op): fc.Arbitrary<Record<string, unknown>> => {
  switch (op) {
    case "in":
    case "nin":
      return fc.array(scalar, { maxLength: 10 }).map((value) => ({ op, value }));
    case "startsWith":
      return fc.constantFrom("", "x", "xy", "1").map((value) => ({ op, value }));
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return fc.oneof(fc.integer({ min: -2, max: 3 }), fc.constantFrom("x", "1")).map((value) => ({ op, value }));
    case "exists":
      return fc.option(fc.boolean(), { nil: undefined }).map((value) => (value === undefined ? { op } : { op, value }));
    default:
      return scalar.map((value) => ({ op, value }));
  }
});

const where = fc.array(fc.tuple(fc.constantFrom(...KEYS), comparison).map(([property, c]) => ({ property, ...c })), { maxLength: 2 });
const within = fc.constantFrom(...DURATIONS);
const numeric = fc.record({ op: fc.constantFrom(...NUMERIC_OPERATORS), value: fc.integer({ min: 0, max: 4 }) });

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.tuple(fc.constantFrom(...KEYS), comparison).map(([trait, c]) => ({ trait, ...c })),
  fc.tuple(fc.constantFrom(...CONTEXT_PATHS), comparison).map(([context, c]) => ({ context, ...c })),
  fc.record(
    { event: fc.constantFrom(...EVENT_NAMES), where, within, count: numeric },
    { requiredKeys: ["event"] },
  ),
  fc
    .record({
      agg: fc.constantFrom("sum", "avg", "min", "max", "count", "distinct"),
      event: fc.constantFrom(...EVENT_NAMES),
      property: fc.constantFrom(...KEYS),
      within,
      where,
    })
    .chain((metric) => numeric.map((c) => ({ metric, op: c.op, value: c.value - 1 }))),
  fc
    .tuple(fc.constantFrom("firstSeen", "lastSeen"), fc.record({ within, before: within }, { requiredKeys: [] }))
    .filter(([, window]) => window.within !== undefined || window.before !== undefined)
    .map(([field, window]) => ({ [field]: window })),
  fc.constantFrom(...PURPOSES).map((consent) => ({ consent })),
  fc.constantFrom("s1", "s2").map((segment) => ({ segment })),
  fc.record({ prediction: fc.constantFrom("p1", "p2"), op: fc.constantFrom(...NUMERIC_OPERATORS), value: fc.constantFrom(0, 0.25, 0.5, 0.75, 1) }),
  fc.record({ prediction: fc.constantFrom("p1", "p2"), percentile: fc.record({ op: fc.constantFrom(...NUMERIC_OPERATORS), value: fc.constantFrom(0, 50, 90, 100) }) }),
);

const rule: fc.Arbitrary<Rule> = fc
  .letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { maxDepth: 4, depthIdentifier: "rule" },
      leaf,
      fc.array(tie("node"), { maxLength: 3 }).map((all) => ({ all })),
      fc.array(tie("node"), { maxLength: 3 }).map((any) => ({ any })),
      tie("node").map((not) => ({ not })),
    ),
  }))
  .node.map((json) => {
    const parsed = parseRule(json);
    if (!parsed.ok) throw new Error(`generated an invalid rule: ${parsed.error.path}: ${parsed.error.message} in ${JSON.stringify(json)}`);
    return parsed.rule;
  });

/** Times near every window edge: now minus a duration, plus or minus a millisecond, and anywhere. */
const EDGES = DURATIONS.map(ms).flatMap((d) => [d - 1, d, d + 1]);
const ago = fc.oneof(fc.constantFrom(0, 1, ...EDGES), fc.integer({ min: -ms("1h"), max: ms("8d") }));
const time = ago.map((offset) => NOW - offset);

const event: fc.Arbitrary<SegmentEvent> = fc.record({
  name: fc.constantFrom(...EVENT_NAMES),
  type: fc.constant("track"),
  at: time,
  properties: bag,
});

const contextValue = fc.option(fc.constantFrom("x", "xy", "1", "FR"), { nil: undefined });
const group = (...fields: string[]) => fc.option(fc.record(Object.fromEntries(fields.map((f) => [f, contextValue]))), { nil: undefined });

const input: fc.Arbitrary<SegmentInput> = fc.record({
  traits: bag,
  events: fc.array(event, { maxLength: 8 }),
  context: fc.record({
    geo: group("country", "region", "city", "continent"),
    device: group("type"),
    browser: group("name"),
    os: group("name"),
    utm: group("source", "medium", "campaign", "term", "content"),
    referrer: group("type", "host"),
    page: group("url", "path"),
  }) as fc.Arbitrary<SegmentInput["context"]>,
  firstSeen: fc.option(time, { nil: undefined }),
  lastSeen: fc.option(time, { nil: undefined }),
  consent: fc.record(Object.fromEntries(PURPOSES.map((p) => [p, fc.boolean()])), { requiredKeys: [] }),
  segments: fc.record({ s1: fc.boolean(), s2: fc.boolean() }, { requiredKeys: [] }),
  predictions: fc.option(
    fc.record({ p1: fc.record({ score: fc.constantFrom(0, 0.25, 0.5, 0.9, 1), percentile: fc.constantFrom(0, 50, 90, 100) }) }, { requiredKeys: [] }),
    { nil: undefined },
  ),
});

const RUNS = 3000;

describe("compiled rules agree with the reference interpreter", () => {
  it("on random rules and profiles, at now and around window edges", () => {
    fc.assert(
      fc.property(rule, input, ago, (r, i, shift) => {
        const now = NOW + shift;
        const compiled = compileRule(r)(i, now);
        expect(compiled).toBe(referenceEvaluate(r, i, now));
        expect(explain(r, i, now).result).toBe(compiled);
      }),
      { numRuns: RUNS },
    );
  });
});

describe("nextChange is never late", () => {
  it("the result holds from now until just before nextChange; with no next change, for good", () => {
    fc.assert(
      fc.property(rule, input, fc.double({ min: 0, max: 1, noNaN: true }), (r, i, fraction) => {
        const evaluate = compileRule(r);
        const current = evaluate(i, NOW);
        const next = nextChange(r, i, NOW);
        if (next === undefined) {
          for (const later of [NOW + 1, NOW + ms("7d"), NOW + ms("3650d") * 2]) expect(evaluate(i, later)).toBe(current);
          return;
        }
        expect(next).toBeGreaterThan(NOW);
        const between = NOW + Math.floor((next - 1 - NOW) * fraction);
        expect(evaluate(i, between)).toBe(current);
        expect(evaluate(i, next - 1)).toBe(current);
      }),
      { numRuns: RUNS },
    );
  });

  it("following nextChange from alarm to alarm sees every change of the result", () => {
    // Re-evaluating at each alarm and at random moments between: no change happens unannounced.
    fc.assert(
      fc.property(rule, input, (r, i) => {
        const evaluate = compileRule(r);
        let now = NOW;
        for (let alarms = 0; alarms < 20; alarms++) {
          const next = nextChange(r, i, now);
          const current = evaluate(i, now);
          if (next === undefined) {
            expect(evaluate(i, now + ms("3650d") * 2)).toBe(current);
            return;
          }
          expect(evaluate(i, next - 1)).toBe(current);
          now = next;
        }
      }),
      { numRuns: 1000 },
    );
  });
});
