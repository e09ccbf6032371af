/**
 * Collection rate limits (Workers Rate Limiting bindings, configured in wrangler.toml): per client
 * IP before anything is read, and per site once the key is known. A refusal is `429` with
 * `Retry-After`. Loopback clients (local development, benchmarks) are not limited by IP.
 *
 * The limits count work, not only requests: once a batch is parsed, each `EVENTS_PER_UNIT` events
 * (rejected ones included: they are stored too) count as one request, so a batch of 500 events
 * counts 50 against its site and, from a browser (write key), against its address. A server source
 * (secret key) speaks for many visitors from one address: its events count against the site only.
 */
import type { MiddlewareHandler } from "hono";
import type { AppContext, AppEnv } from "../env";
import { ApiError } from "./errors";

/** The limiters' period, in seconds (wrangler.toml `simple.period`). */
const PERIOD_SECONDS = 60;
const LOOPBACK = /^(127\.|::1$|::ffff:127\.)/;

function tooMany(what: string): ApiError {
  return new ApiError(429, "rate_limited", `Too many requests from this ${what}; retry in ${PERIOD_SECONDS} s.`, { headers: { "Retry-After": String(PERIOD_SECONDS) } });
}

export const limitByIp: MiddlewareHandler<AppEnv> = async (c, next) => {
  const ip = c.req.header("CF-Connecting-IP");
  if (c.req.method !== "OPTIONS" && ip && !LOOPBACK.test(ip)) {
    const { success } = await c.env.IP_LIMITER.limit({ key: `ip:${ip}` });
    if (!success) throw tooMany("address");
  }
  await next();
};

export async function limitBySite(c: AppContext, siteId: string): Promise<void> {
  const { success } = await c.env.SITE_LIMITER.limit({ key: `site:${siteId}` });
  if (!success) throw tooMany("site");
}

/** Events that count as one request. */
export const EVENTS_PER_UNIT = 10;

/** How many requests `events` events count as (at least one: the request itself). */
export const eventUnits = (events: number) => Math.max(1, Math.ceil(events / EVENTS_PER_UNIT));

/**
 * Charges a parsed request's events beyond the one request already counted (by `limitByIp` and
 * `limitBySite`). The binding counts one per call, so a unit is one call.
 */
export async function limitEvents(c: AppContext, siteId: string, events: number, source: "browser" | "server"): Promise<void> {
  const extra = eventUnits(events) - 1;
  if (extra <= 0) return;
  const ip = source === "browser" ? c.req.header("CF-Connecting-IP") : undefined;
  const byIp = ip !== undefined && !LOOPBACK.test(ip);
  const charge = (limiter: RateLimit, key: string) => Promise.all(Array.from({ length: extra }, () => limiter.limit({ key }))).then((r) => r.every((x) => x.success));
  const [siteOk, ipOk] = await Promise.all([charge(c.env.SITE_LIMITER, `site:${siteId}`), byIp ? charge(c.env.IP_LIMITER, `ip:${ip}`) : true]);
  if (!ipOk) throw tooMany("address");
  if (!siteOk) throw tooMany("site");
}
