/**
 * When a delivery is tried again (DESIGN.md §3 "Delivery"). Network errors, timeouts, 408, 429 and
 * 5xx are retried after about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h (±20% jitter,
 * so retries of many events spread out; about three days in all), or after the response's
 * `Retry-After` when it says so. Any other 4xx fails at once; 410 Gone also disables the destination.
 * A 3xx is a failure: redirects are not followed (SSRF).
 */
export const RETRY_SCHEDULE_SECONDS = [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400] as const;
/** Attempts in all: the first, then one per step of the schedule. */
export const MAX_ATTEMPTS = RETRY_SCHEDULE_SECONDS.length + 1;
/** Cloudflare Queues delay a message by at most 12 hours: longer waits are chained. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;
export const JITTER = 0.2;

/** A destination that failed this many attempts in a row, over at least this long, is paused. */
export const PAUSE_AFTER_FAILURES = 25;
export const PAUSE_AFTER_MS = 12 * 3_600_000;

/** Seconds before attempt `attempts + 1`, after `attempts` failed ones; null when none is left. */
export function retryDelaySeconds(attempts: number, random: () => number = Math.random): number | null {
  const base = RETRY_SCHEDULE_SECONDS[attempts - 1];
  if (base === undefined) return null;
  return Math.max(1, Math.round(base * (1 - JITTER + 2 * JITTER * random())));
}

/** `Retry-After` as seconds from `now` (delta-seconds or an HTTP date), capped at a day. */
export function parseRetryAfter(header: string | null | undefined, now: number): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  let seconds: number;
  if (/^\d+$/.test(text)) seconds = Number(text);
  else {
    const at = Date.parse(text);
    if (!Number.isFinite(at)) return undefined;
    seconds = Math.ceil((at - now) / 1000);
  }
  return Math.min(86_400, Math.max(1, seconds));
}

export interface AttemptResult {
  /** The HTTP status; undefined when no response came (network error, timeout). */
  status?: number;
  retryAfter?: string | null;
  error?: string;
}

export type Outcome =
  | { kind: "delivered" }
  | { kind: "retry"; delaySeconds: number }
  | { kind: "failed"; reason: string }
  /** 410: the receiver says the endpoint is gone for good: the destination is disabled. */
  | { kind: "gone"; reason: string };

export const retryable = (status: number | undefined) => status === undefined || status === 408 || status === 429 || status >= 500;

/** What to do after attempt number `attempts` ended with `result`. */
export function outcomeOf(result: AttemptResult, attempts: number, now: number, random: () => number = Math.random): Outcome {
  const { status } = result;
  if (status !== undefined && status >= 200 && status < 300) return { kind: "delivered" };
  if (status === 410) return { kind: "gone", reason: "the endpoint answered 410 Gone" };
  if (status !== undefined && status >= 300 && status < 400) return { kind: "failed", reason: `the endpoint answered ${status} (a redirect; redirects are not followed)` };
  const what = status === undefined ? (result.error ?? "no response") : `the endpoint answered ${status}`;
  if (!retryable(status)) return { kind: "failed", reason: what };
  const scheduled = retryDelaySeconds(attempts, random);
  if (scheduled === null) return { kind: "failed", reason: `${what}; gave up after ${attempts} attempts` };
  const asked = parseRetryAfter(result.retryAfter, now);
  return { kind: "retry", delaySeconds: asked ?? scheduled };
}

/** Whether a failure streak of `failures` attempts since `since` pauses the destination. */
export function shouldPause(failures: number, since: number | null, now: number): boolean {
  return failures >= PAUSE_AFTER_FAILURES && since !== null && now - since >= PAUSE_AFTER_MS;
}
