/**
 * One visitor's contribution to the aggregate rollups, as a pure function of their touchpoints.
 * The consumer stores each visitor's last contribution and writes only the difference, so events
 * that arrive late or out of order, and batches that are delivered twice, leave the aggregates as
 * if every event had arrived once, in order.
 */
import { byTime, creditPath, LOOKBACK_DAYS, MODELS, touchKey, wholeCredit, type KeyedTouch } from "./credit";
import { dayOf, type Touchpoint } from "./touchpoints";

const DAY_MS = 86_400_000;

/** Keys are JSON arrays: `["a", site, day, conversion, model, lookbackDays, source, medium, campaign]` → [credit, cents]; `["e", experience, variant, day]` → [exposed, converted, cents]. */
export type Contribution = Record<string, number[]>;

const add = (into: Contribution, key: unknown[], values: number[]) => {
  const k = JSON.stringify(key);
  const current = into[k];
  if (current) values.forEach((v, i) => (current[i] = (current[i] ?? 0) + v));
  else into[k] = [...values];
};

/**
 * Attribution credit of conversions this many days older than the visitor's newest event is final
 * (no touch can still arrive in their 90-day lookback, short of a week-late delivery): it leaves the
 * stored contribution, which keeps each visitor's row small however long their history.
 */
export const SETTLED_AFTER_DAYS = 97;

/** The first day whose attribution credit is still open for a visitor with these touchpoints. */
export function openSince(touchpoints: readonly Touchpoint[]): string {
  const newest = touchpoints.reduce((max, t) => Math.max(max, t.at), -Infinity);
  return Number.isFinite(newest) ? dayOf(newest - SETTLED_AFTER_DAYS * DAY_MS) : "0000-00-00";
}

/** A contribution without the settled attribution days (before `since`); experiment counts stay. */
export function open(contribution: Contribution, since: string): Contribution {
  return Object.fromEntries(Object.entries(contribution).filter(([key]) => !key.startsWith('["a"') || (JSON.parse(key) as string[])[2]! >= since));
}

export function contributionOf(touchpoints: readonly Touchpoint[], since = "0000-00-00"): Contribution {
  const sorted = [...touchpoints].sort(byTime);
  const out: Contribution = {};
  addAttribution(out, sorted, sorted.filter((t) => t.kind === "conversion"), since);
  addExperiments(out, sorted);
  return out;
}

/**
 * The visitor's contribution after `added` joins `known`, given `before`, their contribution over
 * `known` alone: the same as `contributionOf([...known, ...added], since)`, without crediting every
 * open conversion again. A touch counts only for conversions at or after it, so the known
 * conversions before the earliest added touch keep their credit; only the later ones are credited
 * again (their old credit taken out, the new one added), and the added conversions credited. Events
 * arriving in order (the usual case) credit only their own conversions, so a returning visitor's
 * event costs that, not their whole history; a late touch costs the conversions after it.
 */
export function nextContribution(known: readonly Touchpoint[], added: readonly Touchpoint[], before: Contribution, since: string): Contribution {
  if (known.length === 0) return contributionOf(added, since);
  const knownSorted = [...known].sort(byTime);
  const sorted = [...known, ...added].sort(byTime);
  const earliestTouch = added.reduce((min, t) => (t.kind === "touch" ? Math.min(min, t.at) : min), Infinity);
  const again = knownSorted.filter((t) => t.kind === "conversion" && t.at >= earliestTouch);
  const out: Contribution = {};
  for (const [key, values] of Object.entries(open(before, since))) if (key.startsWith('["a"')) out[key] = [...values];
  addAttribution(out, knownSorted, again, since, -1);
  addAttribution(out, sorted, [...again, ...added.filter((t) => t.kind === "conversion")], since);
  for (const [key, values] of Object.entries(out)) if (values.every((v) => v === 0)) delete out[key];
  addExperiments(out, sorted);
  return out;
}

/** Adds (`sign` −1: takes out) the attribution credit of `conversions` (on or after day `since`) among the touches of `sorted`. */
function addAttribution(out: Contribution, sorted: readonly Touchpoint[], conversions: readonly Touchpoint[], since: string, sign = 1): void {
  if (conversions.length === 0) return;
  // Oldest first (as `sorted`): each lookback's path is a run of this list, found by bisection.
  const touches: KeyedTouch[] = [];
  for (const t of sorted) {
    if (t.kind !== "touch") continue;
    const touch = { at: t.at, source: String(t.data.source), medium: String(t.data.medium), campaign: String(t.data.campaign) };
    touches.push({ ...touch, key: touchKey(touch) });
  }
  // Where each touch's run of touches with its row begins: a path inside one run (a visitor who
  // came from one campaign) gives all of a conversion to that row under every model, found in O(1).
  const runStart: number[] = [];
  touches.forEach((t, i) => runStart.push(i > 0 && touches[i - 1]!.key === t.key ? runStart[i - 1]! : i));
  for (const conversion of conversions) {
    const day = dayOf(conversion.at);
    if (day < since) continue;
    const revenue = Number(conversion.data.revenue ?? 0);
    const end = firstWhere(touches, (t) => t.at > conversion.at);
    const starts = LOOKBACK_DAYS.map((lookback) => firstWhere(touches, (t) => t.at >= conversion.at - lookback * DAY_MS));
    const paths: KeyedTouch[][] = [];
    for (const model of MODELS) {
      LOOKBACK_DAYS.forEach((lookback, i) => {
        const start = starts[i]!;
        const rows = end > start && runStart[end - 1]! <= start ? [wholeCredit(touches[start]!, revenue)] : creditPath(model, (paths[i] ??= touches.slice(start, end)), revenue);
        for (const row of rows) {
          add(out, ["a", conversion.siteId, day, conversion.name, model, lookback, row.source, row.medium, row.campaign], [sign * row.credit, sign * row.revenue]);
        }
      });
    }
  }
}

/** The first index whose item holds `test`, for a test false then true along `items` (its length when none does). */
function firstWhere<T>(items: readonly T[], test: (item: T) => boolean): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (test(items[mid]!)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Adds each experiment's first exposure, and whether a goal conversion followed it (with its revenue). */
function addExperiments(out: Contribution, sorted: readonly Touchpoint[]): void {
  const first = new Map<string, Touchpoint>();
  for (const t of sorted) if (t.kind === "exposure" && !first.has(String(t.data.experienceId))) first.set(String(t.data.experienceId), t);
  if (first.size === 0) return;
  const conversions = sorted.filter((t) => t.kind === "conversion");
  for (const [experienceId, exposure] of first) {
    const goals = conversions.filter((c) => c.at >= exposure.at && Array.isArray(c.data.goals) && c.data.goals.includes(experienceId));
    const revenue = goals.reduce((sum, c) => sum + Number(c.data.revenue ?? 0), 0);
    add(out, ["e", experienceId, String(exposure.data.variant), dayOf(exposure.at)], [1, goals.length > 0 ? 1 : 0, revenue]);
  }
}

/** What to add to the aggregates to move them from `before` to `after` (zero rows left out). */
export function difference(before: Contribution, after: Contribution): Contribution {
  const out: Contribution = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const a = after[key] ?? [];
    const b = before[key] ?? [];
    const d = Array.from({ length: Math.max(a.length, b.length) }, (_, i) => (a[i] ?? 0) - (b[i] ?? 0));
    if (d.some((v) => v !== 0)) out[key] = d;
  }
  return out;
}
