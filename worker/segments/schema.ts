/**
 * The segment rule language (DESIGN.md §3): its zod schema is the single definition, the
 * TypeScript types are inferred from it. A stored rule is a versioned envelope
 * `{version: 1, rule}`; `parseRule` also takes a bare rule (it is then the current version).
 * Every error names the offending path from `rule`, e.g. `rule.all.2.count.op`, so the admin API
 * can answer 400 `{error: {code, message, path}}`. The language is documented in README.md ("Segments: the rule language").
 */
import { z } from "zod";

/** The version `parseRule` produces; bump it (and keep reading the old one) on a breaking change. */
export const RULE_VERSION = 1;

/** Limits that keep a rule cheap to store, compile and evaluate on every event. */
export const LIMITS = {
  /** Nesting of all/any/not: the root is depth 1. */
  depth: 10,
  /** Rule nodes (groups and clauses, not where-conditions). */
  nodes: 200,
  /** Bytes of the rule serialized as JSON. */
  bytes: 16_384,
  /** Conditions in one `where` list, and values in one `in`/`nin` list. */
  list: 100,
} as const;

export const OPERATORS = ["eq", "neq", "in", "nin", "contains", "startsWith", "gt", "gte", "lt", "lte", "exists"] as const;
export type Operator = (typeof OPERATORS)[number];

export const PURPOSES = ["necessary", "analytics", "personalization", "advertising"] as const;
export type Purpose = (typeof PURPOSES)[number];

/** The request-context fields a `{context}` clause can read. */
export const CONTEXT_PATHS = [
  "geo.country",
  "geo.region",
  "geo.city",
  "geo.continent",
  "device.type",
  "browser.name",
  "os.name",
  "utm.source",
  "utm.medium",
  "utm.campaign",
  "utm.term",
  "utm.content",
  "referrer.type",
  "referrer.host",
  "page.url",
  "page.path",
] as const;
export type ContextPath = (typeof CONTEXT_PATHS)[number];

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
/** At most about ten years, whatever the unit. */
const MAX_DURATION_MS = 3650 * UNIT_MS.d;

/** `"<n>m" | "<n>h" | "<n>d"`, n a positive integer. */
export const Duration = z
  .string()
  .regex(/^[1-9][0-9]{0,6}[mhd]$/, { error: 'a duration is "<n>m", "<n>h" or "<n>d" with n a positive integer' })
  .refine((value) => durationMs(value) <= MAX_DURATION_MS, { error: "a duration is at most 3650d" });
export type Duration = z.infer<typeof Duration>;

/** Milliseconds in a duration: `durationMs("7d") === 604_800_000`. */
export function durationMs(duration: string): number {
  const unit = duration.slice(-1) as keyof typeof UNIT_MS;
  return Number(duration.slice(0, -1)) * (UNIT_MS[unit] ?? NaN);
}

const Scalar = z.union([z.string(), z.number(), z.boolean()], { error: "expected a string, a number or a boolean" });
const Ordered = z.union([z.number(), z.string()], { error: "expected a number or a string" });
export type Scalar = z.infer<typeof Scalar>;

/**
 * An operator and the value it compares with. The value's type depends on the operator:
 * `in`/`nin` take a list, `contains`/`startsWith` a string (`contains` also finds an element of a
 * list), `gt…lte` a number or a string (strings compare lexicographically, so ISO dates work),
 * `exists` an optional boolean (default true).
 */
const comparisons = {
  eq: Scalar,
  neq: Scalar,
  in: z.array(Scalar).max(LIMITS.list),
  nin: z.array(Scalar).max(LIMITS.list),
  contains: Scalar,
  startsWith: z.string(),
  gt: Ordered,
  gte: Ordered,
  lt: Ordered,
  lte: Ordered,
  exists: z.boolean().optional(),
} as const satisfies Record<Operator, z.ZodType>;

/** `{…fields, op, value}` for every operator, as one discriminated union on `op`. */
function withComparison<Shape extends z.ZodRawShape>(shape: Shape) {
  const options = OPERATORS.map((op) => z.strictObject({ ...shape, op: z.literal(op), value: comparisons[op] }));
  return z.discriminatedUnion("op", options as unknown as [(typeof options)[number], ...(typeof options)[number][]], {
    error: `op is one of ${OPERATORS.join(", ")}`,
  });
}

const Path = z.string().min(1).max(200);

/** A condition on an event property: `{property: "category", op: "eq", value: "shoes"}`. */
export const Where = withComparison({ property: Path });
export type Where = z.infer<typeof Where>;

export const NUMERIC_OPERATORS = ["eq", "neq", "gt", "gte", "lt", "lte"] as const;
export type NumericOperator = (typeof NUMERIC_OPERATORS)[number];
const NumericComparison = { op: z.enum(NUMERIC_OPERATORS), value: z.number() };

export const TraitClause = withComparison({ trait: Path });
export const ContextClause = withComparison({ context: z.enum(CONTEXT_PATHS) });

export const EventClause = z.strictObject({
  event: z.string().min(1).max(200),
  where: z.array(Where).max(LIMITS.list).optional(),
  within: Duration.optional(),
  /** How many matching events; default at least one (`{op: "gte", value: 1}`). */
  count: z.strictObject({ op: z.enum(NUMERIC_OPERATORS), value: z.number().int().min(0) }).optional(),
});

export const AGGREGATES = ["sum", "avg", "min", "max", "count", "distinct"] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export const MetricClause = z.strictObject({
  metric: z
    .strictObject({
      agg: z.enum(AGGREGATES),
      event: z.string().min(1).max(200),
      property: Path.optional(),
      within: Duration,
      where: z.array(Where).max(LIMITS.list).optional(),
    })
    .refine((metric) => metric.agg === "count" || metric.property !== undefined, {
      error: "sum, avg, min, max and distinct need a property",
      path: ["property"],
    }),
  ...NumericComparison,
});

const SeenWindow = z
  .strictObject({ within: Duration.optional(), before: Duration.optional() })
  .refine((seen) => seen.within !== undefined || seen.before !== undefined, { error: "give within, before or both" });
export const FirstSeenClause = z.strictObject({ firstSeen: SeenWindow });
export const LastSeenClause = z.strictObject({ lastSeen: SeenWindow });
export const ConsentClause = z.strictObject({ consent: z.enum(PURPOSES) });
export const SegmentClause = z.strictObject({ segment: z.string().min(1).max(200) });
/**
 * A prediction's score (README "Predictions"): `{prediction, op, value}` compares the score (a
 * probability, 0–1), `{prediction, percentile: {op, value}}` its percentile among the training
 * population (0–100). A profile without a score for it (not scored, no consent) never matches.
 */
export const PredictionClause = z
  .strictObject({
    prediction: z.string().min(1).max(200),
    op: z.enum(NUMERIC_OPERATORS, { error: `op is one of ${NUMERIC_OPERATORS.join(", ")}` }).optional(),
    value: z.number().min(0, { error: "a score is from 0 to 1" }).max(1, { error: "a score is from 0 to 1" }).optional(),
    percentile: z
      .strictObject({
        op: z.enum(NUMERIC_OPERATORS, { error: `op is one of ${NUMERIC_OPERATORS.join(", ")}` }),
        value: z.number().min(0, { error: "a percentile is from 0 to 100" }).max(100, { error: "a percentile is from 0 to 100" }),
      })
      .optional(),
  })
  .refine((c) => (c.percentile === undefined ? c.op !== undefined && c.value !== undefined : c.op === undefined && c.value === undefined), {
    error: "give op and value (on the score, 0–1) or percentile: {op, value} (0–100), not both",
  });

export type TraitClause = z.infer<typeof TraitClause>;
export type ContextClause = z.infer<typeof ContextClause>;
export type EventClause = z.infer<typeof EventClause>;
export type MetricClause = z.infer<typeof MetricClause>;
export type FirstSeenClause = z.infer<typeof FirstSeenClause>;
export type LastSeenClause = z.infer<typeof LastSeenClause>;
export type ConsentClause = z.infer<typeof ConsentClause>;
export type SegmentClause = z.infer<typeof SegmentClause>;
export type PredictionClause = z.infer<typeof PredictionClause>;
export type Leaf = TraitClause | ContextClause | EventClause | MetricClause | FirstSeenClause | LastSeenClause | ConsentClause | SegmentClause | PredictionClause;

export type Rule = { all: Rule[] } | { any: Rule[] } | { not: Rule } | Leaf;

/** The key that says what kind a node is, in the order of the `Rule` union's options. */
export const NODE_KINDS = ["all", "any", "not", "trait", "context", "event", "metric", "firstSeen", "lastSeen", "consent", "segment", "prediction"] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

export const Rule: z.ZodType<Rule> = z.lazy(() =>
  z.union([
    z.strictObject({ all: z.array(Rule) }),
    z.strictObject({ any: z.array(Rule) }),
    z.strictObject({ not: Rule }),
    TraitClause,
    ContextClause,
    EventClause,
    MetricClause,
    FirstSeenClause,
    LastSeenClause,
    ConsentClause,
    SegmentClause,
    PredictionClause,
  ]),
);

export const RuleEnvelope = z.strictObject({ version: z.literal(RULE_VERSION), rule: Rule });
export type RuleEnvelope = z.infer<typeof RuleEnvelope>;

export interface RuleError {
  /** Dotted path of the offending field, from `rule` (or `version`): `rule.all.2.count.op`. */
  path: string;
  message: string;
}
export type ParseResult = { ok: true; version: typeof RULE_VERSION; rule: Rule } | { ok: false; error: RuleError };

/** The kind of a node: the first of its keys that names one, or undefined. */
export function kindOf(node: unknown): NodeKind | undefined {
  if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
  for (const kind of NODE_KINDS) if (kind in node) return kind;
  return undefined;
}

/** Depth and node count, checked on the raw JSON before zod so a hostile rule is cheap to refuse. */
function checkShape(node: unknown, path: string, depth: number, counter: { nodes: number }): RuleError | undefined {
  if (depth > LIMITS.depth) return { path, message: `rules nest at most ${LIMITS.depth} levels deep` };
  if (++counter.nodes > LIMITS.nodes) return { path, message: `a rule has at most ${LIMITS.nodes} clauses` };
  const kind = kindOf(node);
  const record = node as Record<string, unknown>;
  if (kind === "all" || kind === "any") {
    const children = record[kind];
    if (!Array.isArray(children)) return undefined;
    for (let i = 0; i < children.length; i++) {
      const error = checkShape(children[i], `${path}.${kind}.${i}`, depth + 1, counter);
      if (error) return error;
    }
  } else if (kind === "not") {
    return checkShape(record.not, `${path}.not`, depth + 1, counter);
  }
  return undefined;
}

/**
 * The issue to report out of zod's: within a union of node kinds, follow the option the input
 * chose by its key, so the message names the real mistake and not "no union option matched".
 */
function pickIssue(issue: z.core.$ZodIssue, input: unknown): { path: PropertyKey[]; message: string } {
  if (issue.code === "unrecognized_keys" && issue.keys[0] !== undefined) return { path: [...issue.path, issue.keys[0]], message: `unknown field "${issue.keys[0]}"` };
  if (issue.code !== "invalid_union" || issue.errors.length === 0) return { path: issue.path, message: issue.message };
  const at = issue.path.reduce<unknown>((value, key) => (value as Record<PropertyKey, unknown> | undefined)?.[key], input);
  const kind = kindOf(at);
  if (kind === undefined || issue.errors.length !== NODE_KINDS.length) {
    const message = issue.errors.length === NODE_KINDS.length ? `a rule node needs one of the keys ${NODE_KINDS.join(", ")}` : issue.message;
    return { path: issue.path, message };
  }
  const branch = issue.errors[NODE_KINDS.indexOf(kind)] ?? [];
  const first = branch[0];
  if (!first) return { path: issue.path, message: issue.message };
  const inner = pickIssue(first, at);
  return { path: [...issue.path, ...inner.path], message: inner.message };
}

/**
 * Validates a rule: a bare rule or an envelope `{version: 1, rule}`.
 * @example
 * parseRule({ all: [{ trait: "plan", op: "eq", value: "pro" }] }) // → {ok: true, version: 1, rule}
 * parseRule({ all: [{ event: "Order Completed", count: { op: "most", value: 1 } }] })
 * // → {ok: false, error: {path: "rule.all.0.count.op", message: "…"}}
 */
export function parseRule(json: unknown): ParseResult {
  const isEnvelope = typeof json === "object" && json !== null && !Array.isArray(json) && "version" in json;
  if (isEnvelope) {
    const version = (json as { version: unknown }).version;
    if (version !== RULE_VERSION) return { ok: false, error: { path: "version", message: `unsupported rule version (this Cohort reads version ${RULE_VERSION})` } };
  }
  const raw = isEnvelope ? (json as { rule?: unknown }).rule : json;
  if (isEnvelope) {
    const extra = Object.keys(json as object).find((key) => key !== "version" && key !== "rule");
    if (extra !== undefined) return { ok: false, error: { path: extra, message: `unknown field "${extra}"` } };
  }
  let bytes: number;
  try {
    bytes = new TextEncoder().encode(JSON.stringify(raw) ?? "").length;
  } catch {
    return { ok: false, error: { path: "rule", message: "a rule is JSON" } };
  }
  if (bytes > LIMITS.bytes) return { ok: false, error: { path: "rule", message: `a rule is at most ${LIMITS.bytes} bytes of JSON` } };
  const shapeError = checkShape(raw, "rule", 1, { nodes: 0 });
  if (shapeError) return { ok: false, error: shapeError };
  const parsed = Rule.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    if (!first) return { ok: false, error: { path: "rule", message: "invalid rule" } };
    const issue = pickIssue(first, raw);
    return { ok: false, error: { path: ["rule", ...issue.path.map(String)].join("."), message: issue.message } };
  }
  return { ok: true, version: RULE_VERSION, rule: parsed.data };
}

/** The ids of the segments a rule refers to, each once, in order of appearance. */
export function referencedSegments(rule: Rule): string[] {
  const ids = new Set<string>();
  const visit = (node: Rule): void => {
    if ("all" in node) node.all.forEach(visit);
    else if ("any" in node) node.any.forEach(visit);
    else if ("not" in node) visit(node.not);
    else if ("segment" in node) ids.add(node.segment);
  };
  visit(rule);
  return [...ids];
}

/** The ids of the predictions a rule names, each once, in order of appearance. */
export function referencedPredictions(rule: Rule): string[] {
  const ids = new Set<string>();
  const visit = (node: Rule): void => {
    if ("all" in node) node.all.forEach(visit);
    else if ("any" in node) node.any.forEach(visit);
    else if ("not" in node) visit(node.not);
    else if ("prediction" in node) ids.add(node.prediction);
  };
  visit(rule);
  return [...ids];
}

/**
 * A cycle of segment references, as the ids along it (`["a", "b", "a"]`), or undefined.
 * References to ids missing from the map are not cycles (the caller decides whether they are errors).
 * @example findCycle(new Map([["a", {segment: "b"}], ["b", {segment: "a"}]])) // → ["a", "b", "a"]
 */
export function findCycle(rules: ReadonlyMap<string, Rule>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const seen = state.get(id);
    if (seen === "done") return undefined;
    if (seen === "visiting") return [...stack.slice(stack.indexOf(id)), id];
    const rule = rules.get(id);
    if (!rule) return undefined;
    state.set(id, "visiting");
    stack.push(id);
    for (const next of referencedSegments(rule)) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const id of rules.keys()) {
    const cycle = visit(id);
    if (cycle) return cycle;
  }
  return undefined;
}
