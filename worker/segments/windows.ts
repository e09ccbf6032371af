/**
 * Time: when a rule's result can change with no new event, only because time passes — the moment
 * the Durable Object sets its alarm for — and how much event history a rule needs.
 *
 * Time only ever moves events out of windows (an event is in `within: d` iff `at > now - d`, so it
 * leaves at exactly `at + d`) and moves firstSeen/lastSeen across their edges (at `seen + d`).
 * `nextChange` finds, for every time-dependent clause, the first such moment at which the clause's
 * own value flips, and combines them through the tree: `all` with a clause that is false for good
 * (or `any` with one true for good) cannot change. The answer may be early (re-evaluating then gives
 * the same result, and the caller asks again) but never late. `{segment}` references count as
 * constant here: the referenced segment has its own alarm, and its change re-evaluates dependents.
 */
import { aggregate, compileRule, eventMatcher, matches, type Evaluator, type EventMatcher } from "./compile";
import type { SegmentEvent, SegmentInput } from "./input";
import { compileGetter, compileNumericTest } from "./operators";
import { durationMs, type EventClause, type MetricClause, type Rule } from "./schema";

const evaluators = new WeakMap<Rule, Evaluator>();
function evaluate(rule: Rule, input: SegmentInput, now: number): boolean {
  let evaluator = evaluators.get(rule);
  if (!evaluator) evaluators.set(rule, (evaluator = compileRule(rule)));
  return evaluator(input, now);
}

/** The events a windowed clause counts at `now`, with the moment each leaves, earliest first. */
function leaving(matcher: EventMatcher, input: SegmentInput, now: number): { event: SegmentEvent; exit: number }[] {
  const found: { event: SegmentEvent; exit: number }[] = [];
  for (const event of input.events) if (matches(matcher, event, now)) found.push({ event, exit: event.at + matcher.windowMs });
  return found.sort((a, b) => a.exit - b.exit);
}

/**
 * The first exit time at which `valueAfter(k)` — the clause's value once the first k events (in
 * exit order) have left — differs from its value now. Events leaving at the same moment leave together.
 */
function firstFlip<T>(exits: readonly { exit: number }[], valueAfter: (k: number) => T, now: number): number | undefined {
  const current = valueAfter(0);
  for (let k = 0; k < exits.length; ) {
    const exit = exits[k]!.exit;
    while (k < exits.length && exits[k]!.exit === exit) k++;
    if (exit > now && valueAfter(k) !== current) return exit;
  }
  return undefined;
}

function eventChange(clause: EventClause, input: SegmentInput, now: number): number | undefined {
  if (clause.within === undefined) return undefined;
  const exits = leaving(eventMatcher(clause), input, now);
  const test = compileNumericTest(clause.count?.op ?? "gte", clause.count?.value ?? 1);
  return firstFlip(exits, (k) => test(exits.length - k), now);
}

function metricChange(clause: MetricClause, input: SegmentInput, now: number): number | undefined {
  const exits = leaving(eventMatcher(clause.metric), input, now);
  const get = clause.metric.property === undefined ? undefined : compileGetter(clause.metric.property);
  const test = compileNumericTest(clause.op, clause.value);
  // Quadratic in the matching events of one window: fine for the few hundred a profile keeps.
  return firstFlip(exits, (k) => test(aggregate(clause.metric.agg, get, exits.slice(k).map((e) => e.event))), now);
}

function seenChange(at: number | undefined, window: { within?: string; before?: string }, now: number): number | undefined {
  if (at === undefined) return undefined;
  let next: number | undefined;
  for (const duration of [window.within, window.before]) {
    if (duration === undefined) continue;
    const edge = at + durationMs(duration);
    if (edge > now && (next === undefined || edge < next)) next = edge;
  }
  return next;
}

const earliest = (a: number | undefined, b: number | undefined) => (a === undefined ? b : b === undefined ? a : Math.min(a, b));

/**
 * The earliest time after `now` (ms) at which the rule's result could change only because time
 * passes, or undefined when it cannot. Never late; possibly early.
 * @example
 * // 3 views within 7d, the oldest of three viewed at t: → t + 7d
 * nextChange({ event: "Product Viewed", within: "7d", count: { op: "gte", value: 3 } }, input, now)
 */
export function nextChange(rule: Rule, input: SegmentInput, now: number): number | undefined {
  if ("all" in rule || "any" in rule) {
    const all = "all" in rule;
    const children = all ? rule.all : rule.any;
    let next: number | undefined;
    for (const child of children) {
      const change = nextChange(child, input, now);
      // A child that is false (in all) or true (in any) for good fixes the group.
      if (change === undefined && evaluate(child, input, now) !== all) return undefined;
      next = earliest(next, change);
    }
    return next;
  }
  if ("not" in rule) return nextChange(rule.not, input, now);
  if ("event" in rule) return eventChange(rule, input, now);
  if ("metric" in rule) return metricChange(rule, input, now);
  if ("firstSeen" in rule) return seenChange(input.firstSeen, rule.firstSeen, now);
  if ("lastSeen" in rule) return seenChange(input.lastSeen, rule.lastSeen, now);
  return undefined;
}

/**
 * The longest event window a rule reads, in ms: how much event history the profile must keep for
 * it. 0 when it reads no events; Infinity when an `{event}` clause has no `within` (all history).
 */
export function longestWindow(rule: Rule): number {
  if ("all" in rule) return rule.all.reduce((longest, child) => Math.max(longest, longestWindow(child)), 0);
  if ("any" in rule) return rule.any.reduce((longest, child) => Math.max(longest, longestWindow(child)), 0);
  if ("not" in rule) return longestWindow(rule.not);
  if ("event" in rule) return rule.within === undefined ? Infinity : durationMs(rule.within);
  if ("metric" in rule) return durationMs(rule.metric.within);
  return 0;
}
