/**
 * The one feature function of predictions (DESIGN.md §3 "Predictions"): the trainer and the
 * ProfileStore both turn a visitor into numbers through `featureVector`, from the same plain
 * inputs — the events rules see (name, time, revenue) in the feature windows, first and last seen,
 * the first campaign touch's source and the device of the latest request — so a profile is scored
 * exactly as it was scored in training. The trainer builds a `FeatureInput` from the archive as
 * the profile was at a cut-off; the profile builds it from what it keeps.
 */

export const DAY_MS = 86_400_000;
/** Count windows, in days: counts of each frequent event in the last 7 and 30 days. */
export const WINDOWS_DAYS = [7, 30] as const;
/** How much event history the features read: the profile keeps at least this much while a model is live. */
export const FEATURE_HISTORY_MS = Math.max(...WINDOWS_DAYS) * DAY_MS;
/** Recency and tenure are capped (and a visitor never seen counts as this old). */
const MAX_DAYS = 365;

/** An event as features read it. */
export interface FeatureEvent {
  /** The rule name: the track event's name, `Page Viewed` or `Screen Viewed`. */
  name: string;
  at: number;
  /** `properties.revenue` when it is a finite number. */
  revenue?: number;
}

/** Everything the features of one visitor at one moment are computed from. */
export interface FeatureInput {
  /** The visitor's events, any order; those after `now` are ignored. */
  events: readonly FeatureEvent[];
  firstSeen?: number;
  lastSeen?: number;
  /** The source of the visitor's first campaign touch (utm_source, or the referring host). */
  firstSource?: string;
  /** `context.device.type` of the latest event (`mobile`, `desktop`, `tablet`…). */
  device?: string;
}

/** Which features a model has: chosen at training time from what is frequent in the archive. */
export interface FeatureSpec {
  version: 1;
  /** Event names counted in each window (the most frequent ones). */
  events: string[];
  /** First-touch sources with an indicator each (the most frequent ones). */
  sources: string[];
  /** Device types with an indicator each. */
  devices: string[];
}

/** The feature names of a spec, in vector order (`count:Product Viewed:30d`, `recency_days`, …). */
export function featureNames(spec: FeatureSpec): string[] {
  return [
    ...spec.events.flatMap((name) => WINDOWS_DAYS.map((days) => `count:${name}:${days}d`)),
    "recency_days",
    "tenure_days",
    "active_days:30d",
    "revenue:30d",
    ...spec.sources.map((source) => `source:${source}`),
    ...spec.devices.map((device) => `device:${device}`),
  ];
}

const days = (ms: number) => Math.min(MAX_DAYS, Math.max(0, ms / DAY_MS));

/**
 * The feature vector of a visitor at `now`, written into `out` (length `featureNames(spec).length`)
 * or a new array. Counts, days and revenue are log1p-compressed (heavy tails), indicators are 0/1.
 * @example
 * featureVector({ version: 1, events: ["Product Viewed"], sources: [], devices: ["mobile"] },
 *   { events: [{ name: "Product Viewed", at: now - 1000 }], lastSeen: now - 1000, device: "mobile" }, now)
 * // → [log1p(1), log1p(1), ~0, ~0, log1p(1), 0, 1]
 */
export function featureVector(spec: FeatureSpec, input: FeatureInput, now: number, out: Float64Array | number[] = new Float64Array(featureNames(spec).length)): Float64Array | number[] {
  const nWindows = WINDOWS_DAYS.length;
  const eventIndex = new Map<string, number>();
  spec.events.forEach((name, i) => eventIndex.set(name, i));
  const counts = new Array<number>(spec.events.length * nWindows).fill(0);
  const activeDays = new Set<number>();
  let revenue = 0;
  for (const event of input.events) {
    const age = now - event.at;
    if (age < 0 || age >= FEATURE_HISTORY_MS) continue;
    activeDays.add(Math.floor(event.at / DAY_MS));
    if (event.revenue !== undefined && event.revenue > 0) revenue += event.revenue;
    const i = eventIndex.get(event.name);
    if (i === undefined) continue;
    for (let w = 0; w < nWindows; w++) if (age < WINDOWS_DAYS[w]! * DAY_MS) counts[i * nWindows + w]!++;
  }
  let k = 0;
  for (const count of counts) out[k++] = Math.log1p(count);
  out[k++] = Math.log1p(input.lastSeen === undefined ? MAX_DAYS : days(now - input.lastSeen));
  out[k++] = Math.log1p(input.firstSeen === undefined ? 0 : days(now - input.firstSeen));
  out[k++] = activeDays.size;
  out[k++] = Math.log1p(revenue);
  for (const source of spec.sources) out[k++] = input.firstSource === source ? 1 : 0;
  for (const device of spec.devices) out[k++] = input.device === device ? 1 : 0;
  return out;
}

/** `properties.revenue` as features read it. */
export function revenueOf(properties: Record<string, unknown> | undefined): number | undefined {
  const value = properties?.revenue;
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
