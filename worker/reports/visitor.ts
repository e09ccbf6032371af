/**
 * One visitor's contribution to the aggregate rollups, as a pure function of their touchpoints.
 * The consumer stores each visitor's last contribution and writes only the difference, so events
 * that arrive late or out of order, and batches that are delivered twice, leave the aggregates as
 * if every event had arrived once, in order.
 */
import { creditConversion, LOOKBACK_DAYS, MODELS } from "./credit";
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

const byTime = (a: Touchpoint, b: Touchpoint) => a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

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
  const out: Contribution = {};
  const sorted = [...touchpoints].sort(byTime);
  const touches = sorted.filter((t) => t.kind === "touch").map((t) => ({ at: t.at, source: String(t.data.source), medium: String(t.data.medium), campaign: String(t.data.campaign) }));
  const conversions = sorted.filter((t) => t.kind === "conversion");
  for (const conversion of conversions) {
    if (dayOf(conversion.at) < since) continue;
    const revenue = Number(conversion.data.revenue ?? 0);
    const day = dayOf(conversion.at);
    for (const model of MODELS) {
      for (const lookback of LOOKBACK_DAYS) {
        for (const row of creditConversion(model, touches, conversion.at, revenue, lookback * DAY_MS)) {
          add(out, ["a", conversion.siteId, day, conversion.name, model, lookback, row.source, row.medium, row.campaign], [row.credit, row.revenue]);
        }
      }
    }
  }
  const first = new Map<string, Touchpoint>();
  for (const t of sorted) if (t.kind === "exposure" && !first.has(String(t.data.experienceId))) first.set(String(t.data.experienceId), t);
  for (const [experienceId, exposure] of first) {
    const goals = conversions.filter((c) => c.at >= exposure.at && Array.isArray(c.data.goals) && c.data.goals.includes(experienceId));
    const revenue = goals.reduce((sum, c) => sum + Number(c.data.revenue ?? 0), 0);
    add(out, ["e", experienceId, String(exposure.data.variant), dayOf(exposure.at)], [1, goals.length > 0 ? 1 : 0, revenue]);
  }
  return out;
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
