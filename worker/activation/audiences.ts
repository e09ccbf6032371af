/**
 * Audience jobs: a destination's pending audience changes (audience_members rows in `add` or
 * `remove`) become add/remove batches in the platform's request shape, each batch one delivery.
 * A profile is added only with the consent the destination needs (advertising, no GPC, Consent
 * Mode's `ad_user_data` not denied) and an identifier to match on; what it was added with is kept
 * hashed, so it can be removed after its data is gone (withdrawal, erasure).
 */
import type { ProfileKey } from "../identity/keys";
import { viewProfile } from "../profile/profiles";
import { consentAllows, type ConsentMode } from "./consent";
import { kindOf } from "./kinds";
import { enqueueDeliveries } from "./messages";
import { MAX_QUEUE_DELAY_SECONDS } from "./schedule";
import { destinationById } from "./store";
import type { AudienceOp } from "./types";
import { newId } from "../ids";

/** Profiles looked up per job run (each is a Durable Object call; a Worker invocation's budget is finite). */
export const ADDS_PER_RUN = 500;
export const REMOVES_PER_RUN = 10_000;
const LOOKUP_CONCURRENCY = 25;

interface MemberRow {
  segment_id: string;
  profile_key: string;
  identifiers: string | null;
  consent_mode: string | null;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const batchId = () => newId("msg", 16);

export async function runAudienceJob(env: Pick<Env, "DB" | "DELIVERIES" | "PROFILES">, destinationId: string, now: number): Promise<{ added: number; removed: number; dropped: number; waiting: boolean }> {
  const destination = await destinationById(env.DB, destinationId);
  const audiences = destination && kindOf(destination.type)?.audiences;
  if (!destination || !audiences || destination.deletedAt || !destination.enabled) return { added: 0, removed: 0, dropped: 0, waiting: false };
  // Batches go out in order: while an earlier one is still being delivered (or retried), a later
  // one waits, so a retried add can never land after the remove that followed it.
  const unfinished = await env.DB.prepare(
    "SELECT min(next_attempt_at) AS next FROM deliveries WHERE destination_id = ? AND kind = 'audience' AND status IN ('pending', 'sending', 'retrying')",
  )
    .bind(destinationId)
    .first<{ next: number | null }>();
  if (unfinished?.next != null) {
    const wait = Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(5, Math.ceil((unfinished.next - now) / 1000) + 5));
    await enqueueDeliveries(env.DELIVERIES, [{ kind: "audience", destinationId }], wait);
    return { added: 0, removed: 0, dropped: 0, waiting: true };
  }
  const { results: adds } = await env.DB.prepare("SELECT segment_id, profile_key, identifiers, consent_mode FROM audience_members WHERE destination_id = ? AND state = 'add' LIMIT ?")
    .bind(destinationId, ADDS_PER_RUN)
    .all<MemberRow>();
  const { results: removes } = await env.DB.prepare("SELECT segment_id, profile_key, identifiers, consent_mode FROM audience_members WHERE destination_id = ? AND state = 'remove' LIMIT ?")
    .bind(destinationId, REMOVES_PER_RUN)
    .all<MemberRow>();

  const resolved = await mapLimit(adds, LOOKUP_CONCURRENCY, async (member) => {
    const profile = await viewProfile(env.PROFILES, member.profile_key as ProfileKey);
    const mode = member.consent_mode ? (JSON.parse(member.consent_mode) as ConsentMode) : null;
    if (!profile || !consentAllows(destination.purposes, profile.consent, { consent: { googleConsentMode: mode } }).ok) return { member, identifiers: null, mode };
    const identifiers = await audiences.identifiers(profile.traits, destination.config);
    return { member, identifiers: Object.keys(identifiers).length > 0 ? identifiers : null, mode };
  });
  const ops: AudienceOp[] = [];
  const statements: D1PreparedStatement[] = [];
  const pk = "destination_id = ? AND segment_id = ? AND profile_key = ?";
  let dropped = 0;
  for (const { member, identifiers, mode } of resolved) {
    if (!identifiers) {
      dropped++;
      statements.push(env.DB.prepare(`DELETE FROM audience_members WHERE ${pk} AND state = 'add'`).bind(destinationId, member.segment_id, member.profile_key));
      continue;
    }
    ops.push({ op: "add", identifiers, consentMode: mode });
    statements.push(
      env.DB.prepare(`UPDATE audience_members SET state = 'added', identifiers = ? WHERE ${pk} AND state = 'add'`).bind(JSON.stringify(identifiers), destinationId, member.segment_id, member.profile_key),
    );
  }
  // A removal whose identifiers another profile of the audience holds, identically (the same person
  // under a merged-away key, say), is not sent: it would take that person out too.
  const kept = new Set(ops.map((o) => JSON.stringify(o.identifiers)));
  const held = removes.map((m) => m.identifiers).filter((i): i is string => i !== null);
  for (let i = 0; i < held.length; i += 500) {
    const { results } = await env.DB.prepare(
      "SELECT DISTINCT identifiers FROM audience_members WHERE destination_id = ? AND state = 'added' AND identifiers IN (SELECT value FROM json_each(?))",
    )
      .bind(destinationId, JSON.stringify(held.slice(i, i + 500)))
      .all<{ identifiers: string }>();
    for (const row of results) kept.add(row.identifiers);
  }
  for (const member of removes) {
    if (member.identifiers && !kept.has(member.identifiers)) ops.push({ op: "remove", identifiers: JSON.parse(member.identifiers) as Record<string, string> });
    statements.push(env.DB.prepare(`DELETE FROM audience_members WHERE ${pk} AND state = 'remove'`).bind(destinationId, member.segment_id, member.profile_key));
  }
  const ids: string[] = [];
  for (const request of ops.length > 0 ? audiences.requests(destination.config, ops) : []) {
    const id = batchId();
    ids.push(id);
    statements.push(
      env.DB.prepare(
        `INSERT INTO deliveries (id, destination_id, workspace_id, kind, message_id, profile_key, status, attempts, next_attempt_at, payload)
         VALUES (?, ?, ?, 'audience', ?, NULL, 'pending', 0, ?, ?)`,
      ).bind(id, destinationId, destination.workspaceId, id, now, JSON.stringify(request)),
    );
  }
  if (dropped > 0) statements.push(env.DB.prepare("UPDATE destinations SET filtered = filtered + ? WHERE id = ?").bind(dropped, destinationId));
  if (statements.length > 0) await env.DB.batch(statements);
  await enqueueDeliveries(env.DELIVERIES, ids.map((id) => ({ kind: "delivery" as const, id })));
  // More waiting than one run takes: the job goes on in another message.
  if (adds.length === ADDS_PER_RUN || removes.length === REMOVES_PER_RUN) await enqueueDeliveries(env.DELIVERIES, [{ kind: "audience", destinationId }]);
  return { added: ops.filter((o) => o.op === "add").length, removed: ops.filter((o) => o.op === "remove").length, dropped, waiting: false };
}
