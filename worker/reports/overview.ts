/**
 * The dashboard's overview of one site (`GET /admin/api/overview`): events over time, visitors,
 * visitors right now and consent rates, each beside the same figure for the period before
 * (period over period, as Umami shows it). Events and visitors are counted from the archive over
 * at most seven days (the `events_site_time` index bounds the scan); consent rates come from the
 * daily consent rollup. Bots are left out of every count.
 */
import { PURPOSES, type Purpose } from "../consent/purposes";

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** The periods the overview covers, and the width of one chart bucket in each. */
export const OVERVIEW_PERIODS = { "1h": { ms: 60 * MINUTE_MS, bucketMinutes: 1 }, "24h": { ms: DAY_MS, bucketMinutes: 30 }, "7d": { ms: 7 * DAY_MS, bucketMinutes: 360 } } as const;
export type OverviewPeriod = keyof typeof OVERVIEW_PERIODS;

/** A visitor with an event in the last five minutes is "here now". */
export const CURRENT_MS = 5 * MINUTE_MS;

export interface Overview {
  siteId: string;
  period: OverviewPeriod;
  from: string;
  to: string;
  bucketMinutes: number;
  /** One entry per bucket, oldest first, zeros included (the chart needs every step). */
  series: { at: string; events: number }[];
  events: { current: number; previous: number };
  visitors: { current: number; previous: number };
  currentVisitors: number;
  consent: { purpose: Purpose; granted: number; denied: number; rate: number | null; previousRate: number | null }[];
}

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

async function counts(db: D1Database, siteId: string, from: number, to: number) {
  const row = await db
    .prepare("SELECT count(*) AS events, count(DISTINCT profile_key) AS visitors FROM events WHERE site_id = ? AND received_at >= ? AND received_at < ? AND bot = 0")
    .bind(siteId, from, to)
    .first<{ events: number; visitors: number }>();
  return { events: row?.events ?? 0, visitors: row?.visitors ?? 0 };
}

async function consentRates(db: D1Database, siteId: string, from: number, to: number) {
  const { results } = await db
    .prepare("SELECT purpose, sum(granted) AS granted, sum(denied) AS denied FROM report_consent_days WHERE site_id = ? AND day >= ? AND day <= ? GROUP BY purpose")
    .bind(siteId, day(from), day(to - 1))
    .all<{ purpose: string; granted: number; denied: number }>();
  return new Map(results.map((r) => [r.purpose, r]));
}

const rate = (r?: { granted: number; denied: number }) => (r && r.granted + r.denied > 0 ? r.granted / (r.granted + r.denied) : null);

/** The overview of `siteId` over the `period` that ends at `now`. */
export async function siteOverview(db: D1Database, siteId: string, period: OverviewPeriod, now: number): Promise<Overview> {
  const { ms, bucketMinutes } = OVERVIEW_PERIODS[period];
  const bucketMs = bucketMinutes * MINUTE_MS;
  // Buckets end on a bucket boundary, so a chart polled twice a minute does not shift its bars.
  const to = Math.floor(now / bucketMs) * bucketMs + bucketMs;
  const from = to - ms;
  const [series, current, previous, here, consentNow, consentBefore] = await Promise.all([
    db
      .prepare("SELECT (received_at - ?1) / ?2 AS bucket, count(*) AS events FROM events WHERE site_id = ?3 AND received_at >= ?1 AND received_at < ?4 AND bot = 0 GROUP BY bucket")
      .bind(from, bucketMs, siteId, to)
      .all<{ bucket: number; events: number }>(),
    counts(db, siteId, from, to),
    counts(db, siteId, from - ms, from),
    db
      .prepare("SELECT count(DISTINCT profile_key) AS n FROM events WHERE site_id = ? AND received_at >= ? AND bot = 0")
      .bind(siteId, now - CURRENT_MS)
      .first<{ n: number }>(),
    consentRates(db, siteId, from, to),
    consentRates(db, siteId, from - ms, from),
  ]);
  const byBucket = new Map(series.results.map((r) => [Math.floor(r.bucket), r.events]));
  const buckets = Math.round(ms / bucketMs);
  return {
    siteId,
    period,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    bucketMinutes,
    series: Array.from({ length: buckets }, (_, i) => ({ at: new Date(from + i * bucketMs).toISOString(), events: byBucket.get(i) ?? 0 })),
    events: { current: current.events, previous: previous.events },
    visitors: { current: current.visitors, previous: previous.visitors },
    currentVisitors: here?.n ?? 0,
    consent: PURPOSES.map((purpose) => {
      const r = consentNow.get(purpose);
      return { purpose, granted: r?.granted ?? 0, denied: r?.denied ?? 0, rate: rate(r), previousRate: rate(consentBefore.get(purpose)) };
    }),
  };
}
