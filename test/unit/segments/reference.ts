// The rule language's semantics written as naively as possible (README.md, "Segments: the rule language"), to check the
// compiler against. No sharing with worker/segments beyond the types: no caching, no early exit.
import type { SegmentInput } from "../../../worker/segments/input";
import type { Rule } from "../../../worker/segments/schema";

const DAY = 86_400_000;
export function ms(duration: string): number {
  const n = Number(duration.slice(0, -1));
  const unit = duration.slice(-1);
  if (unit === "m") return n * 60_000;
  if (unit === "h") return n * 3_600_000;
  return n * DAY;
}

function read(source: unknown, path: string): unknown {
  const own = (object: unknown, key: string) =>
    typeof object === "object" && object !== null && Object.prototype.hasOwnProperty.call(object, key) ? (object as Record<string, unknown>)[key] : undefined;
  const whole = own(source, path);
  if (whole !== undefined) return whole;
  let value = source;
  for (const part of path.split(".")) value = own(value, part);
  return value;
}

function isMissing(value: unknown) {
  return value === undefined || value === null;
}

export function test(op: string, expected: unknown, actual: unknown): boolean {
  switch (op) {
    case "eq":
      return actual === expected;
    case "neq":
      return !test("eq", expected, actual);
    case "in": {
      const list = expected as unknown[];
      const candidates = Array.isArray(actual) ? actual : [actual];
      return candidates.some((candidate) => list.some((item) => item === candidate));
    }
    case "nin":
      return !test("in", expected, actual);
    case "contains":
      if (Array.isArray(actual)) return actual.some((item) => item === expected);
      return typeof actual === "string" && typeof expected === "string" && actual.indexOf(expected) >= 0;
    case "startsWith":
      return typeof actual === "string" && actual.slice(0, (expected as string).length) === expected;
    case "exists":
      return expected === false ? isMissing(actual) : !isMissing(actual);
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      const bothNumbers = typeof actual === "number" && typeof expected === "number";
      const bothStrings = typeof actual === "string" && typeof expected === "string";
      if (!bothNumbers && !bothStrings) return false;
      const a = actual as number;
      const b = expected as number;
      if (op === "gt") return a > b;
      if (op === "gte") return a >= b;
      if (op === "lt") return a < b;
      return a <= b;
    }
  }
  throw new Error(`unknown op ${op}`);
}

type EventFilter = { event: string; within?: string; where?: { property: string; op: string; value?: unknown }[] };

function matchingEvents(input: SegmentInput, filter: EventFilter, now: number) {
  return input.events.filter(
    (event) =>
      event.name === filter.event &&
      (filter.within === undefined || now - event.at < ms(filter.within)) &&
      (filter.where ?? []).every((condition) => test(condition.op, condition.value, read(event.properties, condition.property))),
  );
}

function metricValue(agg: string, property: string | undefined, events: SegmentInput["events"]): number | undefined {
  if (agg === "count") return property === undefined ? events.length : events.filter((event) => !isMissing(read(event.properties, property))).length;
  const values = events.map((event) => read(event.properties, property!));
  if (agg === "distinct") {
    const kept = values.filter((value) => ["string", "number", "boolean"].includes(typeof value));
    return kept.filter((value, i) => kept.indexOf(value) === i).length;
  }
  const numbers = values.filter((value): value is number => typeof value === "number" && Number.isFinite(value));
  if (agg === "sum") return numbers.reduce((a, b) => a + b, 0);
  if (numbers.length === 0) return undefined;
  if (agg === "avg") return numbers.reduce((a, b) => a + b, 0) / numbers.length;
  if (agg === "min") return Math.min(...numbers);
  return Math.max(...numbers);
}

export function referenceEvaluate(rule: Rule, input: SegmentInput, now: number): boolean {
  const r = rule as Record<string, any>;
  if ("all" in r) return (r.all as Rule[]).every((child) => referenceEvaluate(child, input, now));
  if ("any" in r) return (r.any as Rule[]).some((child) => referenceEvaluate(child, input, now));
  if ("not" in r) return !referenceEvaluate(r.not, input, now);
  if ("trait" in r) return test(r.op, r.value, read(input.traits, r.trait));
  if ("context" in r) {
    const [group, field] = (r.context as string).split(".");
    return test(r.op, r.value, read(read(input.context, group!), field!));
  }
  if ("event" in r) {
    const count = matchingEvents(input, r as EventFilter, now).length;
    return test(r.count?.op ?? "gte", r.count?.value ?? 1, count);
  }
  if ("metric" in r) {
    const value = metricValue(r.metric.agg, r.metric.property, matchingEvents(input, r.metric, now));
    return test(r.op, r.value, value);
  }
  if ("firstSeen" in r || "lastSeen" in r) {
    const at = "firstSeen" in r ? input.firstSeen : input.lastSeen;
    const window = r.firstSeen ?? r.lastSeen;
    if (at === undefined) return false;
    const age = now - at;
    if (window.within !== undefined && !(age < ms(window.within))) return false;
    if (window.before !== undefined && !(age >= ms(window.before))) return false;
    return true;
  }
  if ("consent" in r) return r.consent === "necessary" || input.consent[r.consent as "analytics"] === true;
  if ("segment" in r) return input.segments[r.segment] === true;
  if ("prediction" in r) {
    const held = input.predictions === undefined ? undefined : input.predictions[r.prediction];
    if (held === undefined) return false;
    return r.percentile === undefined ? test(r.op, r.value, held.score) : test(r.percentile.op, r.percentile.value, held.percentile);
  }
  throw new Error("unknown node");
}
