/**
 * `explain`: why a visitor is in a segment or not. The rule evaluated once more, without
 * short-circuits, into a tree that mirrors it: each node says whether it held and what it saw
 * (the trait's value, how many matching events, the metric's value, …). Operators are the
 * compiler's own (operators.ts), so explain and evaluation agree.
 */
import { aggregate, eventMatcher, matches, metricEvents } from "./compile";
import type { SegmentInput } from "./input";
import { compileGetter, compileNumericTest, compileTest } from "./operators";
import { durationMs, type Rule } from "./schema";

export interface Explanation {
  /** Where the node is in the rule: `rule`, `rule.all.1`, `rule.all.1.not`. */
  path: string;
  kind: "all" | "any" | "not" | "trait" | "context" | "event" | "metric" | "firstSeen" | "lastSeen" | "consent" | "segment" | "prediction";
  result: boolean;
  /** What the clause compared: a trait or context value, an event count, a metric value, a time (ms), a consent or membership. */
  seen?: unknown;
  /** One line for people: `3 matching "Product Viewed" events within 7d (needs gte 3)`. */
  summary: string;
  children?: Explanation[];
}

const show = (value: unknown) => (value === undefined ? "nothing" : JSON.stringify(value));
const wanted = (op: string, value: unknown) => (op === "exists" ? (value === false ? "exists false" : "exists") : `${op} ${show(value)}`);

/**
 * Explains a rule's result for an input at `now`; `explain(rule, input, now).result` equals the
 * compiled rule's result.
 * @example
 * explain({ not: { event: "Order Completed", within: "30d" } }, input, now)
 * // → {path: "rule", kind: "not", result: false, summary: "not: the clause held", children: [
 * //      {path: "rule.not", kind: "event", result: true, seen: 1, summary: '1 matching "Order Completed" event within 30d (needs gte 1)'}]}
 */
export function explain(rule: Rule, input: SegmentInput, now: number, path = "rule"): Explanation {
  if ("all" in rule || "any" in rule) {
    const all = "all" in rule;
    const kind = all ? "all" : "any";
    const children = (all ? rule.all : rule.any).map((child, i) => explain(child, input, now, `${path}.${kind}.${i}`));
    const held = children.filter((child) => child.result).length;
    const result = all ? held === children.length : held > 0;
    return { path, kind, result, summary: `${kind}: ${held} of ${children.length} clauses held`, children };
  }
  if ("not" in rule) {
    const child = explain(rule.not, input, now, `${path}.not`);
    return { path, kind: "not", result: !child.result, summary: `not: the clause ${child.result ? "held" : "did not hold"}`, children: [child] };
  }
  if ("trait" in rule) {
    const seen = compileGetter(rule.trait)(input.traits);
    const result = compileTest(rule.op, rule.value)(seen);
    return { path, kind: "trait", result, seen, summary: `trait ${rule.trait} is ${show(seen)} (${wanted(rule.op, rule.value)})` };
  }
  if ("context" in rule) {
    const [group, field] = rule.context.split(".") as [keyof SegmentInput["context"], string];
    const seen = (input.context[group] as Record<string, unknown> | undefined)?.[field];
    const result = compileTest(rule.op, rule.value)(seen);
    return { path, kind: "context", result, seen, summary: `context ${rule.context} is ${show(seen)} (${wanted(rule.op, rule.value)})` };
  }
  if ("event" in rule) {
    const matcher = eventMatcher(rule);
    let seen = 0;
    for (const event of input.events) if (matches(matcher, event, now)) seen++;
    const op = rule.count?.op ?? "gte";
    const value = rule.count?.value ?? 1;
    const result = compileNumericTest(op, value)(seen);
    const window = rule.within === undefined ? "" : ` within ${rule.within}`;
    return { path, kind: "event", result, seen, summary: `${seen} matching "${rule.event}" event${seen === 1 ? "" : "s"}${window} (needs ${op} ${value})` };
  }
  if ("metric" in rule) {
    const { agg, property, event, within } = rule.metric;
    const get = property === undefined ? undefined : compileGetter(property);
    const seen = aggregate(agg, get, metricEvents(eventMatcher(rule.metric), input, now));
    const result = compileNumericTest(rule.op, rule.value)(seen);
    const of = property === undefined ? `"${event}" events` : `${property} of "${event}" events`;
    return { path, kind: "metric", result, seen, summary: `${agg} of ${of} within ${within} is ${show(seen)} (${rule.op} ${rule.value})` };
  }
  if ("firstSeen" in rule || "lastSeen" in rule) {
    const kind = "firstSeen" in rule ? "firstSeen" : "lastSeen";
    const window = "firstSeen" in rule ? rule.firstSeen : rule.lastSeen;
    const seen = input[kind];
    const within = window.within === undefined ? Infinity : durationMs(window.within);
    const before = window.before === undefined ? -Infinity : durationMs(window.before);
    const result = seen !== undefined && seen > now - within && seen <= now - before;
    const when = seen === undefined ? "unknown" : new Date(seen).toISOString();
    const edges = [window.within && `within ${window.within}`, window.before && `before ${window.before}`].filter(Boolean).join(" and ");
    return { path, kind, result, seen, summary: `${kind} ${when} (${edges})` };
  }
  if ("consent" in rule) {
    const seen = rule.consent === "necessary" ? true : input.consent[rule.consent];
    return { path, kind: "consent", result: seen === true, seen, summary: `consent to ${rule.consent}: ${seen === true ? "given" : seen === false ? "refused" : "unknown"}` };
  }
  if ("prediction" in rule) {
    const held = input.predictions?.[rule.prediction];
    const [what, op, value] = rule.percentile === undefined ? ["score", rule.op!, rule.value!] : ["percentile", rule.percentile.op, rule.percentile.value];
    const seen = held === undefined ? undefined : what === "score" ? held.score : held.percentile;
    const result = seen !== undefined && compileNumericTest(op, value)(seen);
    const summary = seen === undefined ? `no score for prediction ${rule.prediction} (needs ${what} ${op} ${value})` : `prediction ${rule.prediction} ${what} is ${seen} (${op} ${value})`;
    return { path, kind: "prediction", result, seen, summary };
  }
  const seen = input.segments[rule.segment];
  return { path, kind: "segment", result: seen === true, seen, summary: `${seen === true ? "in" : "not in"} segment ${rule.segment}` };
}
