/**
 * The DELIVERIES consumer: each message is one delivery (or one audience job), handled on its own,
 * concurrently with the others, so a slow or dead endpoint holds back nothing but itself. A delivery
 * is claimed in D1 before it is sent (a duplicate message finds it taken or done), sent with a 10 s
 * timeout and no redirect, and its outcome recorded: delivered, retried later (a new message with
 * `delaySeconds`, chained past the queue's 12 h cap), or failed for good with the response's status
 * and body head. A destination that keeps failing is paused with the reason; 410 disables it.
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { ProfileKey } from "../identity/keys";
import { viewProfile } from "../profile/profiles";
import { deliveries, destinations } from "../store/schema";
import { runAudienceJob } from "./audiences";
import { consentAllows } from "./consent";
import { kindOf } from "./kinds";
import type { DeliveryMessage } from "./messages";
import { MAX_QUEUE_DELAY_SECONDS, outcomeOf, shouldPause, type AttemptResult } from "./schedule";
import { webhookHeaders } from "./signing";
import { signingSecrets, destinationById, type DeliveryRow, type DestinationRow } from "./store";
import { checkDestinationUrl, localDestinationsAllowed } from "./ssrf";
import type { PlannedRequest } from "./types";
import { TtlCache } from "../store/cache";

export const TIMEOUT_MS = 10_000;
/** How long a claim holds: past it, a crashed attempt's delivery is taken over. */
export const LEASE_MS = 60_000;
export const BODY_HEAD = 1024;
export const USER_AGENT = "Cohort-Webhooks/1";

export interface DeliverDeps {
  fetch: typeof fetch;
  now: () => number;
  random: () => number;
}

const defaultDeps = (): DeliverDeps => ({ fetch: (input, init) => fetch(input, init), now: Date.now, random: Math.random });

type DeliveryEnv = Pick<Env, "DB" | "DELIVERIES" | "PROFILES" | "DATA_SECRET" | "ALLOW_LOCAL_DESTINATIONS">;

/** The first `BODY_HEAD` bytes of a response body, without reading the rest. */
async function bodyHead(res: Response): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < BODY_HEAD) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) all.set(c, (at += c.byteLength) - c.byteLength);
  return new TextDecoder().decode(all.subarray(0, BODY_HEAD));
}

async function finish(db: D1Database, id: string, values: Partial<typeof deliveries.$inferInsert>) {
  await drizzle(db).update(deliveries).set({ leaseUntil: null, ...values }).where(eq(deliveries.id, id));
}

/** What the delivery sends: the method, URL and body (signed headers are added by the caller). */
async function requestOf(env: DeliveryEnv, row: DeliveryRow, destination: DestinationRow): Promise<PlannedRequest | { filtered: string }> {
  if (row.kind === "audience") return JSON.parse(row.payload!) as PlannedRequest;
  const url = kindOf(destination.type)!.target(destination.config);
  if (row.kind === "event") return { method: "POST", url, body: row.payload! };
  // A segment entry or exit: sent with the profile's identifiers and traits, under its consent now.
  const event = JSON.parse(row.payload!) as Record<string, unknown> & { context?: Record<string, unknown>; properties?: Record<string, unknown> };
  const profile = row.profileKey ? await viewProfile(env.PROFILES, row.profileKey as ProfileKey) : null;
  if (!profile) return { filtered: "the profile is gone" };
  const verdict = consentAllows(destination.purposes, profile.consent);
  if (!verdict.ok) return { filtered: verdict.reason };
  const enriched = {
    ...event,
    traits: profile.traits,
    context: { ...event.context, traits: profile.traits },
    properties: { ...event.properties, identities: profile.identities.filter((i) => i.kind === "userId" || i.kind === "anonymousId") },
  };
  return { method: "POST", url, body: JSON.stringify(enriched) };
}

export type DeliveryResult = { done: true } | { resendInSeconds: number };

/** A raw D1 row of `deliveries` in drizzle's shape. */
function rowOf(raw: Record<string, unknown>): DeliveryRow {
  const date = (v: unknown) => (v === null || v === undefined ? null : new Date(Number(v)));
  return {
    id: String(raw.id),
    destinationId: String(raw.destination_id),
    workspaceId: String(raw.workspace_id),
    kind: String(raw.kind),
    messageId: String(raw.message_id),
    profileKey: (raw.profile_key as string | null) ?? null,
    status: String(raw.status),
    attempts: Number(raw.attempts),
    nextAttemptAt: new Date(Number(raw.next_attempt_at)),
    leaseUntil: date(raw.lease_until),
    lastAttemptAt: date(raw.last_attempt_at),
    deliveredAt: date(raw.delivered_at),
    responseStatus: (raw.response_status as number | null) ?? null,
    responseBody: (raw.response_body as string | null) ?? null,
    error: (raw.error as string | null) ?? null,
    payload: (raw.payload as string | null) ?? null,
    createdAt: new Date(Number(raw.created_at)),
  };
}

/**
 * Destinations are read once per isolate every few seconds, not once per delivery: a change (a
 * pause, a new URL) reaches deliveries within `DESTINATION_CACHE_MS`. Failures recorded here
 * refresh it at once.
 */
export const DESTINATION_CACHE_MS = 5000;
const destinationCache = new TtlCache<string, DestinationRow | undefined>(DESTINATION_CACHE_MS, 1000);

const cachedDestination = (db: D1Database, id: string, now: number) => destinationCache.getOrLoad(id, () => destinationById(db, id), now);

/** One attempt at delivery `id` (or nothing, when it is done, not due, or taken). */
export async function attemptDelivery(env: DeliveryEnv, id: string, deps: DeliverDeps = defaultDeps()): Promise<DeliveryResult> {
  const now = deps.now();
  // Claimed in one statement when due (the common case); otherwise the row says why not.
  const claimed = await env.DB.prepare(
    `UPDATE deliveries SET status = 'sending', lease_until = ?1, attempts = attempts + 1, last_attempt_at = ?2
     WHERE id = ?3 AND ((status IN ('pending', 'retrying') AND next_attempt_at <= ?2 + 1000) OR (status = 'sending' AND lease_until < ?2))
     RETURNING *`,
  )
    .bind(now + LEASE_MS, now, id)
    .first<Record<string, unknown>>();
  if (!claimed) {
    const [row] = await drizzle(env.DB).select().from(deliveries).where(eq(deliveries.id, id)).limit(1);
    // Arrived before its time (a wait longer than the queue's cap is chained): wait on.
    if (row && (row.status === "pending" || row.status === "retrying")) return { resendInSeconds: Math.ceil((row.nextAttemptAt.getTime() - now) / 1000) };
    return { done: true };
  }
  const row = rowOf(claimed);
  const attempts = row.attempts;

  const destination = await cachedDestination(env.DB, row.destinationId, now);
  if (!destination || destination.deletedAt) {
    await finish(env.DB, id, { status: "failed", error: "the destination was deleted" });
    return { done: true };
  }
  if (!destination.enabled) {
    const why = destination.pausedReason ? `the destination is paused: ${destination.pausedReason}` : "the destination is disabled";
    await finish(env.DB, id, { status: "failed", error: `${why} (replay it once the destination is enabled again)`, attempts: attempts - 1 });
    return { done: true };
  }
  const kind = kindOf(destination.type)!;
  const request = await requestOf(env, row, destination);
  if ("filtered" in request) {
    await finish(env.DB, id, { status: "filtered", error: request.filtered, payload: null });
    return { done: true };
  }
  const check = checkDestinationUrl(request.url, localDestinationsAllowed(env));
  if (!check.ok) {
    await finish(env.DB, id, { status: "failed", error: `not sent: the destination URL ${check.reason}` });
    return { done: true };
  }
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": USER_AGENT, ...kind.headers?.(destination.config) };
  if (destination.type === "webhook") {
    Object.assign(headers, await webhookHeadersFor(env, destination, id, Math.floor(now / 1000), request.body, now));
  }

  let result: AttemptResult;
  let head: string | null = null;
  try {
    const res = await deps.fetch(check.url.href, { method: request.method, headers, body: request.body, redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS) });
    head = await bodyHead(res);
    result = { status: res.status, retryAfter: res.headers.get("Retry-After") };
  } catch (error) {
    const e = error as Error;
    result = { error: e.name === "TimeoutError" || e.name === "AbortError" ? `no response within ${TIMEOUT_MS / 1000} s` : `network error: ${e.message}` };
  }
  const outcome = outcomeOf(result, attempts, now, deps.random);
  const response = { responseStatus: result.status ?? null, responseBody: head };

  if (outcome.kind === "delivered") {
    await finish(env.DB, id, { ...response, status: "delivered", deliveredAt: new Date(now), error: null, payload: null });
    if (destination.failureStreak > 0) {
      await drizzle(env.DB).update(destinations).set({ failureStreak: 0, failingSince: null }).where(eq(destinations.id, destination.id));
      destinationCache.delete(destination.id);
    }
    return { done: true };
  }
  const reason = outcome.kind === "retry" ? (result.status ? `the endpoint answered ${result.status}` : result.error!) : outcome.reason;
  if (outcome.kind === "retry") {
    await finish(env.DB, id, { ...response, status: "retrying", nextAttemptAt: new Date(now + outcome.delaySeconds * 1000), error: reason });
  } else {
    await finish(env.DB, id, { ...response, status: "failed", error: reason });
  }
  await recordFailure(env.DB, destination, now, outcome.kind === "gone" ? `disabled: ${reason}` : undefined, reason);
  return outcome.kind === "retry" ? { resendInSeconds: outcome.delaySeconds } : { done: true };
}

async function webhookHeadersFor(env: DeliveryEnv, destination: DestinationRow, id: string, timestamp: number, body: string, now: number) {
  return webhookHeaders(await signingSecrets(env, destination, now), id, timestamp, body);
}

/** One more failed attempt in a row; pauses (or, with `disable`, disables) the destination. */
async function recordFailure(db: D1Database, destination: DestinationRow, now: number, disable: string | undefined, reason: string) {
  const row = await db
    .prepare("UPDATE destinations SET failure_streak = failure_streak + 1, failing_since = coalesce(failing_since, ?) WHERE id = ? RETURNING failure_streak, failing_since")
    .bind(now, destination.id)
    .first<{ failure_streak: number; failing_since: number | null }>();
  let paused = disable;
  if (!paused && row && shouldPause(row.failure_streak, row.failing_since, now)) {
    paused = `paused after ${row.failure_streak} failed attempts in a row since ${new Date(row.failing_since!).toISOString()}; last: ${reason}`;
  }
  destinationCache.delete(destination.id);
  if (paused) {
    await drizzle(db).update(destinations).set({ enabled: false, pausedReason: paused, updatedAt: new Date(now) }).where(eq(destinations.id, destination.id));
  }
}

/** The DELIVERIES queue handler. */
export async function consumeDeliveries(batch: MessageBatch<DeliveryMessage>, env: DeliveryEnv, deps: DeliverDeps = defaultDeps()): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        if (message.body.kind === "audience") {
          await runAudienceJob(env, message.body.destinationId, deps.now());
        } else {
          const result = await attemptDelivery(env, message.body.id, deps);
          if ("resendInSeconds" in result) {
            await env.DELIVERIES.send(message.body, { contentType: "json", delaySeconds: Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(1, result.resendInSeconds)) });
          }
        }
        message.ack();
      } catch (error) {
        console.error(`delivery message ${JSON.stringify(message.body)} failed; retrying`, error);
        message.retry({ delaySeconds: Math.min(300, 5 * 2 ** message.attempts) });
      }
    }),
  );
}


