/** The backoff of queued work that failed (D1 writes, backfill pages, erasure requests). */

/** Exponential backoff: 2 s, 4 s, 8 s … capped at five minutes. */
export const retryDelaySeconds = (attempts: number) => Math.min(300, 2 ** attempts);
