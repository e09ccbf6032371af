/**
 * The reports, read from the rollups (never from the event archive). Each reads a number of rows
 * bounded by the days asked for and the distinct groups in them (attribution, experiments, segment
 * and consent history), by one visitor's touchpoints (journeys), or by the visitors who did a funnel's
 * events in the range (funnels: one row per visitor, event and day, whatever the events per visitor).
 */
import type { Purpose } from "../consent/purposes";
import { PURPOSES } from "../consent/purposes";
import type { StoredExperience } from "../decisions/schema";
import { HOLDOUT } from "../decisions/choose";
import { compileWhere } from "../segments/compile";
import type { Where } from "../segments/schema";
import { CREDIT_UNIT, type Model } from "./credit";
import { chanceToBeat, rateOf, srm, uplift, type Arm } from "./stats";
import { dayOf } from "./touchpoints";

const DAY_MS = 86_400_000;
const money = (cents: number) => Math.round(cents) / 100;
const conversions = (credit: number) => Math.round((credit / CREDIT_UNIT) * 1e6) / 1e6;

export interface Range {
  from: string;
  to: string;
}

export type AttributionBy = "source" | "medium" | "campaign";

export async function attributionReport(
  d1: D1Database,
  q: Range & { siteId: string; conversion: string; model: Model; lookbackDays: number; by: AttributionBy },
) {
  // `campaign` is named by its source and medium too; `source` and `medium` group by themselves alone.
  const dims = q.by === "campaign" ? ["source", "medium", "campaign"] : [q.by];
  const { results } = await d1
    .prepare(
      `SELECT ${dims.join(", ")}, sum(credit) AS credit, sum(revenue) AS revenue FROM report_attribution
       WHERE site_id = ? AND conversion = ? AND model = ? AND lookback_days = ? AND day >= ? AND day <= ?
       GROUP BY ${dims.join(", ")} HAVING sum(credit) != 0 OR sum(revenue) != 0 ORDER BY credit DESC, revenue DESC, ${dims.join(", ")}`,
    )
    .bind(q.siteId, q.conversion, q.model, q.lookbackDays, q.from, q.to)
    .all<{ source?: string; medium?: string; campaign?: string; credit: number; revenue: number }>();
  let credit = 0;
  let revenue = 0;
  const rows = results.map((r) => {
    credit += r.credit;
    revenue += r.revenue;
    return { source: r.source ?? null, medium: r.medium ?? null, campaign: r.campaign ?? null, conversions: conversions(r.credit), revenue: money(r.revenue) };
  });
  return {
    siteId: q.siteId,
    conversion: q.conversion,
    model: q.model,
    lookback: `${q.lookbackDays}d`,
    by: q.by,
    from: q.from,
    to: q.to,
    rows,
    total: { conversions: conversions(credit), revenue: money(revenue) },
  };
}

/** Fewer exposures than this in an arm, or fewer conversions than MIN_CONVERSIONS, and the result says it is too early. */
export const MIN_EXPOSED = 100;
export const MIN_CONVERSIONS = 10;

export async function experimentReport(d1: D1Database, experience: StoredExperience, range: Partial<Range>) {
  const { results } = await d1
    .prepare(
      `SELECT variant, sum(exposed) AS exposed, sum(converted) AS converted, sum(revenue) AS revenue FROM report_experiments
       WHERE experience_id = ? AND day >= ? AND day <= ? GROUP BY variant`,
    )
    .bind(experience.id, range.from ?? "0000-00-00", range.to ?? "9999-99-99")
    .all<{ variant: string; exposed: number; converted: number; revenue: number }>();
  const counts = new Map(results.map((r) => [r.variant, r]));
  const arm = (id: string) => {
    const r = counts.get(id);
    return { exposed: r?.exposed ?? 0, converted: r?.converted ?? 0, revenueCents: r?.revenue ?? 0 };
  };
  const configured = experience.variants.map((v) => v.id);
  // Variants removed from the experience still show what they collected (outside the SRM test).
  const ids = [...configured, ...[...counts.keys()].filter((id) => id !== HOLDOUT && !configured.includes(id))];
  const holdout = arm(HOLDOUT);
  const personalisation = experience.variants.length === 1 && (experience.holdout > 0 || holdout.exposed > 0);
  const control: { id: string; arm: Arm } = personalisation ? { id: HOLDOUT, arm: holdout } : { id: ids[0]!, arm: arm(ids[0]!) };
  const variants = ids.map((id) => {
    const a = arm(id);
    const compared = id !== control.id;
    return {
      id,
      exposed: a.exposed,
      converted: a.converted,
      rate: rateOf(a),
      revenue: money(a.revenueCents),
      revenuePerVisitor: a.exposed > 0 ? money(a.revenueCents) / a.exposed : 0,
      uplift: compared ? uplift(control.arm, a) : null,
      chanceToBeat: compared && a.exposed > 0 && control.arm.exposed > 0 ? chanceToBeat(control.arm, a) : null,
    };
  });
  const totalWeight = experience.variants.reduce((sum, v) => sum + v.weight, 0);
  const observed = [...experience.variants.map((v) => arm(v.id).exposed)];
  const shares = experience.variants.map((v) => ((1 - experience.holdout) * v.weight) / totalWeight);
  if (experience.holdout > 0) {
    observed.push(holdout.exposed);
    shares.push(experience.holdout);
  }
  const test = srm(observed, shares);
  const arms = [...variants.filter((v) => configured.includes(v.id)), ...(experience.holdout > 0 || holdout.exposed > 0 ? [{ id: HOLDOUT, ...holdout }] : [])];
  const small = arms.filter((a) => a.exposed < MIN_EXPOSED || a.converted < MIN_CONVERSIONS).map((a) => a.id);
  const warnings: { code: string; message: string }[] = [];
  if (small.length > 0) {
    warnings.push({
      code: "small_sample",
      message: `Too early to call: ${small.join(", ")} ha${small.length === 1 ? "s" : "ve"} fewer than ${MIN_EXPOSED} exposed visitors or ${MIN_CONVERSIONS} conversions.`,
    });
  }
  if (test.flagged) warnings.push({ code: "sample_ratio_mismatch", message: `Exposures do not match the configured split (p = ${test.pValue.toPrecision(3)}): check the assignment before reading the results.` });
  return {
    experience: { id: experience.id, name: experience.name, status: experience.status, holdout: experience.holdout },
    goal: experience.goal ?? null,
    control: control.id,
    variants,
    holdout: { exposed: holdout.exposed, converted: holdout.converted, rate: rateOf(holdout), revenue: money(holdout.revenueCents), revenuePerVisitor: holdout.exposed > 0 ? money(holdout.revenueCents) / holdout.exposed : 0 },
    srm: { chiSquare: test.chiSquare, pValue: test.pValue, flagged: test.flagged },
    minimumSample: { exposedPerArm: MIN_EXPOSED, conversionsPerArm: MIN_CONVERSIONS, met: small.length === 0 },
    warnings,
  };
}

export interface FunnelStep {
  event: string;
  where?: Where[];
}

type FunnelQuery = Range & { siteId: string; steps: FunnelStep[]; withinMs: number };

/** Past this many distinct property sets of a step with a `where`, the funnel is counted in memory. */
const DISTINCT_PROPERTIES = 10_000;

/**
 * Visitors who did step 1 in the range, then each next step in order, each within `withinMs` of
 * their first step-1 time in the range. Per visitor, event and day the rollup keeps the first and
 * last occurrence and the first one's properties: a `where` is tested on those properties, and a
 * step counts when its first or last occurrence of a day falls in the window.
 */
export async function funnelReport(d1: D1Database, q: FunnelQuery) {
  const reached = (await reachedInSql(d1, q)) ?? (await reachedInMemory(d1, q));
  return {
    siteId: q.siteId,
    from: q.from,
    to: q.to,
    steps: q.steps.map((s, i) => ({
      event: s.event,
      ...(s.where ? { where: s.where } : {}),
      visitors: reached[i]!,
      conversion: reached[0]! > 0 ? reached[i]! / reached[0]! : 0,
      dropOff: i === 0 ? 0 : reached[i - 1]! - reached[i]!,
    })),
  };
}

const untilDay = (q: FunnelQuery) => dayOf(Date.parse(`${q.to}T00:00:00Z`) + q.withinMs);

/**
 * The funnel as one SQL query: each `where` is first tested in JS on the distinct property sets of
 * its step, and the matching sets are passed in. Undefined when a step has too many distinct sets.
 */
export async function reachedInSql(d1: D1Database, q: FunnelQuery): Promise<number[] | undefined> {
  const until = untilDay(q);
  const allowed: (string | null)[] = [];
  for (const step of q.steps) {
    const test = compileWhere(step.where);
    if (!test) {
      allowed.push(null);
      continue;
    }
    const rows = await d1
      .prepare("SELECT DISTINCT properties FROM report_funnel_steps WHERE site_id = ? AND name = ? AND day >= ? AND day <= ? LIMIT ?")
      .bind(q.siteId, step.event, q.from, until, DISTINCT_PROPERTIES + 1)
      .raw<[string]>();
    if (rows.length > DISTINCT_PROPERTIES) return undefined;
    allowed.push(JSON.stringify(rows.map(([json]) => json).filter((json) => test(JSON.parse(json) as Record<string, unknown>))));
  }
  const params: unknown[] = [q.siteId, q.from, q.to, until, q.withinMs];
  const param = (value: unknown) => `?${params.push(value)}`;
  const filter = (i: number, alias: string) => (allowed[i] === null ? "" : ` AND ${alias}.properties IN (SELECT value FROM json_each(${param(allowed[i])}))`);
  const ctes = [
    `s0 AS (SELECT f.profile_key AS p, min(f.first_at) AS t1, min(f.first_at) AS t FROM report_funnel_steps f
       WHERE f.site_id = ?1 AND f.name = ${param(q.steps[0]!.event)} AND f.day >= ?2 AND f.day <= ?3${filter(0, "f")} GROUP BY f.profile_key)`,
  ];
  for (let i = 1; i < q.steps.length; i++) {
    ctes.push(
      `s${i} AS (SELECT * FROM (
         SELECT s.p, s.t1, min(CASE WHEN f.first_at >= s.t AND f.first_at <= s.t1 + ?5 THEN f.first_at WHEN f.last_at >= s.t AND f.last_at <= s.t1 + ?5 THEN f.last_at END) AS t
         FROM s${i - 1} s JOIN report_funnel_steps f ON f.site_id = ?1 AND f.name = ${param(q.steps[i]!.event)} AND f.profile_key = s.p AND f.day >= ?2 AND f.day <= ?4${filter(i, "f")}
         GROUP BY s.p) WHERE t IS NOT NULL)`,
    );
  }
  const counts = q.steps.map((_, i) => `(SELECT count(*) FROM s${i})`).join(", ");
  const [row] = await d1.prepare(`WITH ${ctes.join(",\n")} SELECT ${counts}`).bind(...params).raw<number[]>();
  return row;
}

/** The same funnel counted in memory, for steps whose properties are too varied to list. */
export async function reachedInMemory(d1: D1Database, q: FunnelQuery): Promise<number[]> {
  const names = [...new Set(q.steps.map((s) => s.event))];
  const results = await d1
    .prepare(
      `SELECT name, day, profile_key, first_at, last_at, properties FROM report_funnel_steps
       WHERE site_id = ? AND name IN (SELECT value FROM json_each(?)) AND day >= ? AND day <= ?`,
    )
    .bind(q.siteId, JSON.stringify(names), q.from, untilDay(q))
    .raw<[string, string, string, number, number, string]>();
  const tests = q.steps.map((s) => compileWhere(s.where));
  const end = Date.parse(`${q.to}T00:00:00Z`) + DAY_MS;
  const byProfile = new Map<string, [string, string, number, number, string][]>();
  for (const [name, day, key, first, last, properties] of results) {
    let list = byProfile.get(key);
    if (!list) byProfile.set(key, (list = []));
    list.push([name, day, first, last, properties]);
  }
  const reached = new Array<number>(q.steps.length).fill(0);
  const parsed = new Map<string, Record<string, unknown>>();
  const props = (json: string) => {
    let value = parsed.get(json);
    if (!value) parsed.set(json, (value = JSON.parse(json) as Record<string, unknown>));
    return value;
  };
  for (const rows of byProfile.values()) {
    /** The earliest occurrence of step `i` at or after `after` and at or before `before`. */
    const next = (i: number, after: number, before: number) => {
      let best = Infinity;
      for (const [name, , first, last, properties] of rows) {
        if (name !== q.steps[i]!.event) continue;
        for (const at of [first, last]) if (at >= after && at <= before && at < best && (!tests[i] || tests[i]!(props(properties)))) best = at;
      }
      return best;
    };
    const start = next(0, Date.parse(`${q.from}T00:00:00Z`), end - 1);
    if (start === Infinity) continue;
    reached[0]!++;
    let at = start;
    for (let i = 1; i < q.steps.length; i++) {
      at = next(i, at, start + q.withinMs);
      if (at === Infinity) break;
      reached[i]!++;
    }
  }
  return reached;
}

export const JOURNEY_LIMIT = 1000;

/** One visitor's touchpoints in time order, over the profile keys that are now theirs. */
export async function journeyReport(d1: D1Database, workspaceId: string, keys: readonly string[], limit: number) {
  const { results } = await d1
    .prepare(
      `SELECT id, site_id, at, kind, name, data FROM report_touchpoints WHERE workspace_id = ? AND profile_key IN (SELECT value FROM json_each(?))
       ORDER BY at, kind != 'touch', id LIMIT ?`,
    )
    .bind(workspaceId, JSON.stringify(keys), limit + 1)
    .all<{ id: string; site_id: string; at: number; kind: string; name: string; data: string }>();
  return {
    touchpoints: results.slice(0, limit).map((r) => ({ at: new Date(r.at).toISOString(), kind: r.kind, name: r.name, siteId: r.site_id, messageId: r.id.replace(/#touch$/, ""), ...JSON.parse(r.data) })),
    truncated: results.length > limit,
  };
}

/** Entries, exits and the size at the end of each day (the running sum since the segment's first change). */
export async function segmentHistory(d1: D1Database, segmentId: string, range: Partial<Range>) {
  const { results } = await d1
    .prepare("SELECT day, entered, exited FROM report_segment_days WHERE segment_id = ? AND day <= ? ORDER BY day")
    .bind(segmentId, range.to ?? "9999-99-99")
    .all<{ day: string; entered: number; exited: number }>();
  let size = 0;
  const days = results.map((r) => ({ day: r.day, size: (size += r.entered - r.exited), entered: r.entered, exited: r.exited }));
  return days.filter((d) => !range.from || d.day >= range.from);
}

type Counts = { granted: number; denied: number };

export async function consentReport(d1: D1Database, q: Range & { siteId: string }) {
  const { results } = await d1
    .prepare("SELECT day, purpose, source, granted, denied FROM report_consent_days WHERE site_id = ? AND day >= ? AND day <= ? ORDER BY day")
    .bind(q.siteId, q.from, q.to)
    .all<{ day: string; purpose: Purpose; source: string; granted: number; denied: number }>();
  const days = new Map<string, Record<string, Counts & { rate: number; bySource: Record<string, Counts> }>>();
  for (const r of results) {
    const day = days.get(r.day) ?? {};
    const purpose = (day[r.purpose] ??= { granted: 0, denied: 0, rate: 0, bySource: {} });
    purpose.granted += r.granted;
    purpose.denied += r.denied;
    purpose.rate = purpose.granted / (purpose.granted + purpose.denied);
    const source = (purpose.bySource[r.source] ??= { granted: 0, denied: 0 });
    source.granted += r.granted;
    source.denied += r.denied;
    days.set(r.day, day);
  }
  return { siteId: q.siteId, from: q.from, to: q.to, purposes: [...PURPOSES], days: [...days].map(([day, purposes]) => ({ day, purposes })) };
}
