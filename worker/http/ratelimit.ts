/**
 * Collection rate limits (Workers Rate Limiting bindings, configured in wrangler.toml): per client
 * IP before anything is read, and per site once the key is known. A refusal is `429` with
 * `Retry-After`. Loopback clients (local development, benchmarks) are not limited by IP.
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
