/**
 * Collection rate limits (Workers Rate Limiting bindings, configured in wrangler.toml): per client
 * IP before anything is read, and per site once the key is known. A refusal is `429` with
 * `Retry-After`. Loopback clients (local development, benchmarks) are not limited by IP.
 *
 * The limits count work, not only requests: a request is one unit, and once a batch is parsed each
 * `EVENTS_PER_UNIT` events (rejected ones included: they are stored too) count as one unit, so a
 * batch of 500 events counts 50 against its site and, from a browser (write key), against its
 * address. A server source (secret key) speaks for many visitors from one address: its events count
 * against the site only.
 *
 * The bindings count one per call, and a call is not free (in `wrangler dev` it costs more than a
 * Durable Object call), so each isolate meters units and calls a limiter once per `UNITS_PER_CALL`
 * of them: the limits in wrangler.toml are in calls, a tenth of the units they stand for. A key the
 * limiter refused calls it on every request until it is let through again, so a refusal ends as
 * soon as the window allows. What an isolate has metered and not yet charged (fewer than
 * `UNITS_PER_CALL` units per key) is the limits' slack.
 */
import type { MiddlewareHandler } from "hono";
import type { AppContext, AppEnv } from "../env";
import { ApiError } from "./errors";

/** The limiters' period, in seconds (wrangler.toml `simple.period`). */
const PERIOD_SECONDS = 60;
const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

/** Units (requests, or each 10 events of a batch) a single limiter call stands for. */
export const UNITS_PER_CALL = 10;
/** Keys an isolate meters at most; past it the meter starts afresh (each key loses under a call's worth). */
const MAX_KEYS = 10_000;

/**
 * Units used per key since its last call, and the keys refused at their last call. `charge` adds
 * a request's units and calls `limiter` once for each whole `UNITS_PER_CALL`; true when every
 * call let it through (or none was due).
 */
export class Meter {
  private pending = new Map<string, number>();
  private refused = new Set<string>();

  async charge(limiter: RateLimit, key: string, units: number): Promise<boolean> {
    const call = (n: number) => Promise.all(Array.from({ length: n }, () => limiter.limit({ key }))).then((r) => r.every((x) => x.success));
    if (this.refused.has(key)) {
      // While refused, every request asks (its units rounded up to calls): the first one let through ends the refusal.
      const success = await call(Math.max(1, Math.ceil(units / UNITS_PER_CALL)));
      if (success) this.refused.delete(key);
      return success;
    }
    const owed = (this.pending.get(key) ?? 0) + units;
    const calls = Math.floor(owed / UNITS_PER_CALL);
    if (this.pending.size >= MAX_KEYS && !this.pending.has(key)) this.pending.clear();
    this.pending.set(key, owed % UNITS_PER_CALL);
    if (calls === 0 || (await call(calls))) return true;
    if (this.refused.size >= MAX_KEYS) this.refused.clear();
    this.refused.add(key);
    return false;
  }
}

/** This isolate's meters, one per limiter. */
const ipMeter = new Meter();
const siteMeter = new Meter();

function tooMany(what: string): ApiError {
  return new ApiError(429, "rate_limited", `Too many requests from this ${what}; retry in ${PERIOD_SECONDS} s.`, { headers: { "Retry-After": String(PERIOD_SECONDS) } });
}

export const limitByIp: MiddlewareHandler<AppEnv> = async (c, next) => {
  const ip = c.req.header("CF-Connecting-IP");
  if (c.req.method !== "OPTIONS" && ip && !LOOPBACK.test(ip)) {
    if (!(await ipMeter.charge(c.env.IP_LIMITER, `ip:${ip}`, 1))) throw tooMany("address");
  }
  await next();
};

export async function limitBySite(c: AppContext, siteId: string): Promise<void> {
  if (!(await siteMeter.charge(c.env.SITE_LIMITER, `site:${siteId}`, 1))) throw tooMany("site");
}

/** Events that count as one unit. */
export const EVENTS_PER_UNIT = 10;

/** How many units `events` events count as (at least one: the request itself). */
export const eventUnits = (events: number) => Math.max(1, Math.ceil(events / EVENTS_PER_UNIT));

/**
 * Charges a parsed request's events beyond the one unit already counted (by `limitByIp` and
 * `limitBySite`).
 */
export async function limitEvents(c: AppContext, siteId: string, events: number, source: "browser" | "server"): Promise<void> {
  const extra = eventUnits(events) - 1;
  if (extra <= 0) return;
  const ip = source === "browser" ? c.req.header("CF-Connecting-IP") : undefined;
  const byIpToo = ip !== undefined && !LOOPBACK.test(ip);
  const [siteOk, ipOk] = await Promise.all([
    siteMeter.charge(c.env.SITE_LIMITER, `site:${siteId}`, extra),
    byIpToo ? ipMeter.charge(c.env.IP_LIMITER, `ip:${ip}`, extra) : true,
  ]);
  if (!ipOk) throw tooMany("address");
  if (!siteOk) throw tooMany("site");
}
