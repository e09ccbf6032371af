// The rule language from table-driven JSON cases (cases.json), like GrowthBook's cases.json:
// evaluation of every node and operator with its boundaries, schema errors with their paths,
// limits, cycles, window edges and the history a rule needs.
import { describe, expect, it } from "vitest";
import { compileRule, compiledSegment, forgetCompiledSegments } from "../../../worker/segments/compile";
import { explain } from "../../../worker/segments/explain";
import { findCycle, LIMITS, parseRule, referencedSegments, type Rule } from "../../../worker/segments/schema";
import { longestWindow, nextChange } from "../../../worker/segments/windows";
import cases from "./cases.json";
import { at, inputOf, NOW, type CaseInput } from "./helpers";
import { referenceEvaluate } from "./reference";

/** A rule from the cases, validated the way the admin API will. */
function rule(json: unknown): Rule {
  const parsed = parseRule(json);
  if (!parsed.ok) throw new Error(`${parsed.error.path}: ${parsed.error.message}`);
  return parsed.rule;
}

describe("evaluate", () => {
  it.each(cases.evaluate as [string, unknown, CaseInput, boolean][])("%s", (_name, json, input, expected) => {
    const parsed = rule(json);
    const segmentInput = inputOf(input);
    expect(compileRule(parsed)(segmentInput, NOW)).toBe(expected);
    expect(referenceEvaluate(parsed, segmentInput, NOW)).toBe(expected);
    expect(explain(parsed, segmentInput, NOW).result).toBe(expected);
  });
});

describe("schema errors name the offending path", () => {
  it.each(cases.invalid as [string, unknown, string][])("%s", (_name, json, path) => {
    const parsed = parseRule(json);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.path).toBe(path);
      expect(parsed.error.message).not.toBe("");
    }
  });

  it.each(cases.valid as [string, unknown][])("valid: %s", (_name, json) => {
    const parsed = parseRule(json);
    expect(parsed).toMatchObject({ ok: true, version: 1 });
  });
});

describe("limits", () => {
  const nest = (depth: number): unknown => (depth === 1 ? { consent: "analytics" } : { not: nest(depth - 1) });

  it(`accepts ${LIMITS.depth} levels and refuses one more, naming where`, () => {
    expect(parseRule(nest(LIMITS.depth)).ok).toBe(true);
    expect(parseRule(nest(LIMITS.depth + 1))).toEqual({
      ok: false,
      error: { path: "rule" + ".not".repeat(LIMITS.depth), message: expect.stringContaining("10 levels") },
    });
  });

  it(`accepts ${LIMITS.nodes} clauses and refuses one more`, () => {
    const clauses = (n: number) => ({ any: Array.from({ length: n - 1 }, (_, i) => ({ segment: `s${i}` })) });
    expect(parseRule(clauses(LIMITS.nodes)).ok).toBe(true);
    expect(parseRule(clauses(LIMITS.nodes + 1))).toEqual({
      ok: false,
      error: { path: `rule.any.${LIMITS.nodes - 1}`, message: expect.stringContaining("200 clauses") },
    });
  });

  it(`refuses a rule over ${LIMITS.bytes} bytes of JSON`, () => {
    const big = { any: [{ trait: "x", op: "in", value: Array.from({ length: 90 }, (_, i) => `${"v".repeat(200)}${i}`) }] };
    expect(parseRule(big)).toEqual({ ok: false, error: { path: "rule", message: expect.stringContaining("bytes") } });
  });

  it(`refuses more than ${LIMITS.list} values in a list`, () => {
    const parsed = parseRule({ trait: "x", op: "in", value: Array.from({ length: LIMITS.list + 1 }, (_, i) => i) });
    expect(parsed).toMatchObject({ ok: false, error: { path: "rule.value" } });
  });
});

describe("segment references", () => {
  it("lists the referenced segments once each", () => {
    expect(referencedSegments(rule({ all: [{ segment: "a" }, { not: { segment: "b" } }, { any: [{ segment: "a" }] }] }))).toEqual(["a", "b"]);
  });

  it.each(cases.cycles as [string, Record<string, unknown>, string[] | null][])("cycles: %s", (_name, segments, cycle) => {
    const rules = new Map(Object.entries(segments).map(([id, json]) => [id, rule(json)]));
    expect(findCycle(rules) ?? null).toEqual(cycle);
  });
});

describe("nextChange", () => {
  it.each(cases.nextChange as [string, unknown, CaseInput, string | null][])("%s", (_name, json, input, expected) => {
    const parsed = rule(json);
    const segmentInput = inputOf(input);
    const next = nextChange(parsed, segmentInput, NOW);
    expect(next ?? null).toBe(expected === null ? null : at(expected));
    if (next !== undefined) {
      const evaluate = compileRule(parsed);
      expect(evaluate(segmentInput, next - 1)).toBe(evaluate(segmentInput, NOW));
    }
  });
});

describe("longestWindow", () => {
  it.each(cases.longestWindow as [string, unknown, string | number][])("%s", (_name, json, expected) => {
    const window = expected === "Infinity" ? Infinity : typeof expected === "number" ? expected : at(`+${expected}`) - NOW;
    expect(longestWindow(rule(json))).toBe(window);
  });
});

describe("compiled segments", () => {
  it("compiles a segment version once and a new version again", () => {
    forgetCompiledSegments();
    const v1 = rule({ trait: "plan", op: "eq", value: "pro" });
    const v2 = rule({ trait: "plan", op: "eq", value: "team" });
    const first = compiledSegment("seg", 1, v1);
    expect(compiledSegment("seg", 1, v1)).toBe(first);
    const second = compiledSegment("seg", 2, v2);
    expect(second).not.toBe(first);
    expect(second(inputOf({ traits: { plan: "team" } }), NOW)).toBe(true);
    forgetCompiledSegments("seg");
    expect(compiledSegment("seg", 2, v2)).not.toBe(second);
  });
});

describe("README.md (segments)", () => {
  it("every JSON example in the rule language's section is a valid rule", async () => {
    const { readFile } = await import("node:fs/promises");
    const readme = await readFile(new URL("../../../README.md", import.meta.url), "utf8");
    // The rule language's own section: from its heading to the next top-level one.
    const start = readme.indexOf("## Segments: the rule language");
    const doc = readme.slice(start, readme.indexOf("\n## ", start + 1));
    const examples = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => match[1]!);
    expect(examples.length).toBeGreaterThanOrEqual(8);
    for (const example of examples) {
      const parsed = parseRule(JSON.parse(example));
      expect(parsed.ok ? "ok" : `${parsed.error.path}: ${parsed.error.message}\n${example}`).toBe("ok");
    }
  });
});
