/**
 * The compiler: a rule becomes a tree of plain closures once, and evaluating it is a few property
 * reads and comparisons — no interpretation of JSON, no allocation on the hot path. Compiled
 * segments are cached per isolate by (segment id, version).
 *
 * Window edges (README.md "Time windows"): an event is inside `within: d` at time `now` iff
 * `event.at > now - d`. An event exactly `d` old is out; an event later than `now` (clock skew) is in.
 * `firstSeen/lastSeen: {within: d}` holds iff the time is `> now - d`, `{before: d}` iff it is `<= now - d`.
 */
import type { SegmentEvent, SegmentInput } from "./input";
import { compileGetter, compileNumericTest, compileTest, type Getter } from "./operators";
import { durationMs, type Aggregate, type EventClause, type MetricClause, type Rule, type Where } from "./schema";

export type { SegmentEvent, SegmentInput } from "./input";

/** A compiled rule: whether the input is in the segment at time `now` (ms since the epoch). */
export type Evaluator = (input: SegmentInput, now: number) => boolean;

/** A `where` list as one test of an event's properties; undefined when there is nothing to test. */
export function compileWhere(where: readonly Where[] | undefined): ((properties: Record<string, unknown>) => boolean) | undefined {
  if (!where || where.length === 0) return undefined;
  const getters = where.map((condition) => compileGetter(condition.property));
  const tests = where.map((condition) => compileTest(condition.op, condition.value));
  if (getters.length === 1) {
    const get = getters[0]!;
    const test = tests[0]!;
    return (properties) => test(get(properties));
  }
  return (properties) => {
    for (let i = 0; i < getters.length; i++) if (!tests[i]!(getters[i]!(properties))) return false;
    return true;
  };
}

/** Which events a clause looks at: a name, a window (Infinity: all stored events) and a where-test. */
export interface EventMatcher {
  name: string;
  windowMs: number;
  where: ((properties: Record<string, unknown>) => boolean) | undefined;
}

export function eventMatcher(clause: Pick<EventClause, "event" | "where" | "within">): EventMatcher {
  return {
    name: clause.event,
    windowMs: clause.within === undefined ? Infinity : durationMs(clause.within),
    where: compileWhere(clause.where),
  };
}

/** Whether an event matches at `now`: its name, inside the window (`at > now - window`), its where-list. */
export function matches(matcher: EventMatcher, event: SegmentEvent, now: number): boolean {
  return event.name === matcher.name && event.at > now - matcher.windowMs && (matcher.where === undefined || matcher.where(event.properties));
}

/**
 * An aggregate of a property over events: sum, count and distinct of nothing are 0; avg, min and
 * max of nothing are undefined (no value, which no comparison but `neq` matches). sum, avg, min and
 * max read finite numbers and skip other values; `count` counts events (with a property: events
 * where it exists); `distinct` counts distinct strings, numbers and booleans.
 */
export function aggregate(agg: Aggregate, get: Getter | undefined, events: Iterable<SegmentEvent>): number | undefined {
  let n = 0;
  let total = 0;
  let low = Infinity;
  let high = -Infinity;
  const distinct = agg === "distinct" ? new Set<unknown>() : undefined;
  for (const event of events) {
    if (get === undefined) {
      n++;
      continue;
    }
    const value = get(event.properties);
    if (agg === "count") {
      if (value !== undefined && value !== null) n++;
    } else if (distinct) {
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") distinct.add(value);
    } else if (typeof value === "number" && Number.isFinite(value)) {
      n++;
      total += value;
      if (value < low) low = value;
      if (value > high) high = value;
    }
  }
  switch (agg) {
    case "count":
      return n;
    case "distinct":
      return distinct!.size;
    case "sum":
      return total;
    case "avg":
      return n === 0 ? undefined : total / n;
    case "min":
      return n === 0 ? undefined : low;
    case "max":
      return n === 0 ? undefined : high;
  }
}

/** The events of the input a metric clause aggregates at `now`. */
export function* metricEvents(matcher: EventMatcher, input: SegmentInput, now: number): Generator<SegmentEvent> {
  const events = input.events;
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    if (matches(matcher, event, now)) yield event;
  }
}

function compileEvent(clause: EventClause): Evaluator {
  const name = clause.event;
  const windowMs = clause.within === undefined ? Infinity : durationMs(clause.within);
  const where = compileWhere(clause.where);
  const op = clause.count?.op ?? "gte";
  const threshold = clause.count?.value ?? 1;
  const test = compileNumericTest(op, threshold);
  // The result depends only on min(count, threshold + 1): stop counting there.
  const cap = threshold + 1;
  if (where === undefined && op === "gte" && threshold === 1) {
    return (input, now) => {
      const events = input.events;
      const cutoff = now - windowMs;
      for (let i = 0; i < events.length; i++) {
        const event = events[i]!;
        if (event.name === name && event.at > cutoff) return true;
      }
      return false;
    };
  }
  return (input, now) => {
    const events = input.events;
    const cutoff = now - windowMs;
    let count = 0;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.name !== name || !(event.at > cutoff)) continue;
      if (where !== undefined && !where(event.properties)) continue;
      if (++count >= cap) break;
    }
    return test(count);
  };
}

function compileMetric(clause: MetricClause): Evaluator {
  const matcher = eventMatcher(clause.metric);
  const get = clause.metric.property === undefined ? undefined : compileGetter(clause.metric.property);
  const agg = clause.metric.agg;
  const test = compileNumericTest(clause.op, clause.value);
  return (input, now) => test(aggregate(agg, get, metricEvents(matcher, input, now)));
}

function compileSeen(field: "firstSeen" | "lastSeen", window: { within?: string; before?: string }): Evaluator {
  const within = window.within === undefined ? Infinity : durationMs(window.within);
  const before = window.before === undefined ? -Infinity : durationMs(window.before);
  return (input, now) => {
    const at = input[field];
    return at !== undefined && at > now - within && at <= now - before;
  };
}

function compileGroup(children: Evaluator[], all: boolean): Evaluator {
  if (children.length === 0) return () => all;
  if (children.length === 1) return children[0]!;
  if (children.length === 2) {
    const [a, b] = children as [Evaluator, Evaluator];
    return all ? (input, now) => a(input, now) && b(input, now) : (input, now) => a(input, now) || b(input, now);
  }
  if (all) {
    return (input, now) => {
      for (let i = 0; i < children.length; i++) if (!children[i]!(input, now)) return false;
      return true;
    };
  }
  return (input, now) => {
    for (let i = 0; i < children.length; i++) if (children[i]!(input, now)) return true;
    return false;
  };
}

/**
 * Compiles a (validated) rule into a function of (input, now).
 * @example
 * const proShoeFans = compileRule({ all: [
 *   { trait: "plan", op: "eq", value: "pro" },
 *   { event: "Product Viewed", where: [{ property: "category", op: "eq", value: "shoes" }], within: "7d", count: { op: "gte", value: 3 } },
 * ] });
 * proShoeFans(input, Date.now()); // → true or false
 */
export function compileRule(rule: Rule): Evaluator {
  if ("all" in rule) return compileGroup(rule.all.map(compileRule), true);
  if ("any" in rule) return compileGroup(rule.any.map(compileRule), false);
  if ("not" in rule) {
    const child = compileRule(rule.not);
    return (input, now) => !child(input, now);
  }
  if ("trait" in rule) {
    const get = compileGetter(rule.trait);
    const test = compileTest(rule.op, rule.value);
    return (input) => test(get(input.traits));
  }
  if ("context" in rule) {
    const [group, field] = rule.context.split(".") as [keyof SegmentInput["context"], string];
    const test = compileTest(rule.op, rule.value);
    return (input) => {
      const values = input.context[group] as Record<string, unknown> | undefined;
      return test(values === undefined ? undefined : values[field]);
    };
  }
  if ("event" in rule) return compileEvent(rule);
  if ("metric" in rule) return compileMetric(rule);
  if ("firstSeen" in rule) return compileSeen("firstSeen", rule.firstSeen);
  if ("lastSeen" in rule) return compileSeen("lastSeen", rule.lastSeen);
  if ("consent" in rule) {
    const purpose = rule.consent;
    // `necessary` is always granted (DESIGN.md §3 Consent).
    if (purpose === "necessary") return () => true;
    return (input) => input.consent[purpose] === true;
  }
  if ("prediction" in rule) {
    const id = rule.prediction;
    const score = rule.percentile === undefined;
    const test = score ? compileNumericTest(rule.op!, rule.value!) : compileNumericTest(rule.percentile!.op, rule.percentile!.value);
    return (input) => {
      const held = input.predictions?.[id];
      return held !== undefined && test(score ? held.score : held.percentile);
    };
  }
  const id = rule.segment;
  return (input) => input.segments[id] === true;
}

const cache = new Map<string, { version: number; evaluate: Evaluator }>();

/**
 * The compiled rule of a segment version, compiled once per isolate. A new version of a segment
 * replaces the old one in the cache, so the cache holds one entry per segment.
 */
export function compiledSegment(id: string, version: number, rule: Rule): Evaluator {
  const cached = cache.get(id);
  if (cached && cached.version === version) return cached.evaluate;
  const evaluate = compileRule(rule);
  cache.set(id, { version, evaluate });
  return evaluate;
}

/** Forgets compiled segments (a deleted segment, or tests). */
export function forgetCompiledSegments(id?: string): void {
  if (id === undefined) cache.clear();
  else cache.delete(id);
}
