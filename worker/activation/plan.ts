/**
 * From the EVENTS consumer to deliveries (called once a batch's D1 writes succeeded): each archived
 * event becomes one delivery per webhook destination whose filter and consent it passes (or a
 * `filtered` row saying why not); segment entries and exits become webhook events (for the
 * destination's segments) and audience changes for ad platforms; a withdrawal of advertising
 * consent, GPC, or a forgotten profile takes the profile out of every audience it was sent to.
 */
import type { CollectedEvent } from "../collect/normalise";
import { SEGMENT_ENTERED, SEGMENT_EXITED, type PipelineMessage } from "../pipeline/messages";
import { consentAllows, consentModeOf, type ConsentView } from "./consent";
import { kindOf } from "./kinds";
import { deliveryId, enqueueDeliveries, type DeliveryMessage } from "./messages";
import { activeDestinations, type DestinationRow } from "./store";

type Of<K extends PipelineMessage["kind"]> = Extract<PipelineMessage, { kind: K }>;
type ArchivedEvent = CollectedEvent & { consent?: ConsentView };

/** Whether the destination's event filter (`{types?, names?}`) lets the event through. */
export function passesFilter(filter: DestinationRow["events"], event: CollectedEvent): boolean {
  if (!filter) return true;
  if (filter.types?.length && !filter.types.includes(event.type)) return false;
  if (filter.names?.length) {
    const name = event.type === "track" ? event.event : event.type === "page" || event.type === "screen" ? event.name : undefined;
    if (name === undefined || !filter.names.includes(name)) return false;
  }
  return true;
}

/** The segment of a `Segment Entered` / `Segment Exited` event, else undefined. */
export function segmentOfEvent(event: CollectedEvent): string | undefined {
  if (event.type !== "track" || (event.event !== SEGMENT_ENTERED && event.event !== SEGMENT_EXITED)) return undefined;
  const id = (event.properties as Record<string, unknown> | undefined)?.segmentId;
  return typeof id === "string" ? id : undefined;
}

interface PlannedDelivery {
  id: string;
  destination: DestinationRow;
  kind: "event" | "segment";
  event: ArchivedEvent;
  profileKey: string | null;
  filtered?: string;
}

/** What each event owes each webhook destination (pure: no I/O but hashing the id). */
export async function planEvents(events: Of<"event">[], destinations: DestinationRow[]): Promise<PlannedDelivery[]> {
  const out: PlannedDelivery[] = [];
  for (const message of events) {
    const event = message.event as ArchivedEvent;
    const segment = segmentOfEvent(event);
    for (const destination of destinations) {
      if (destination.workspaceId !== message.workspaceId || destination.type !== "webhook") continue;
      const base = { id: await deliveryId(destination.id, event.messageId), destination, event, profileKey: message.profileKey };
      if (segment !== undefined) {
        // Entries and exits go to the destinations that sync that segment; consent is checked on the
        // profile when sent (the event is the profile's, not a visitor's request).
        if (destination.segments.includes(segment)) out.push({ ...base, kind: "segment" });
        continue;
      }
      if (!passesFilter(destination.events, event)) continue;
      const verdict = consentAllows(destination.purposes, event.consent, event.context);
      out.push({ ...base, kind: "event", ...(verdict.ok ? {} : { filtered: verdict.reason }) });
    }
  }
  return out;
}

const AUDIENCE_UPSERT = `INSERT INTO audience_members (destination_id, segment_id, profile_key, workspace_id, state, consent_mode, changed_at)
  VALUES (?, ?, ?, ?, 'add', ?, ?)
  ON CONFLICT (destination_id, segment_id, profile_key) DO UPDATE SET
    state = CASE audience_members.state WHEN 'add' THEN 'add' ELSE 'added' END,
    consent_mode = coalesce(excluded.consent_mode, audience_members.consent_mode),
    changed_at = excluded.changed_at
  WHERE excluded.changed_at >= audience_members.changed_at`;

export async function planDeliveries(env: Pick<Env, "DB" | "DELIVERIES">, messages: PipelineMessage[], now = Date.now()): Promise<void> {
  const events = messages.filter((m): m is Of<"event"> => m.kind === "event");
  const changes = messages.filter((m): m is Of<"membership"> => m.kind === "membership");
  const forgets = messages.filter((m): m is Of<"forget"> => m.kind === "forget");
  const workspaces = [...new Set([...events, ...changes, ...forgets].map((m) => m.workspaceId))];
  const all = await activeDestinations(env.DB, workspaces);
  const statements: D1PreparedStatement[] = [];
  const queued: DeliveryMessage[] = [];
  const audienceJobs = new Set<string>();

  if (all.length > 0) {
    for (const d of await planEvents(events, all)) {
      statements.push(
        env.DB.prepare(
          `INSERT INTO deliveries (id, destination_id, workspace_id, kind, message_id, profile_key, status, attempts, next_attempt_at, error, payload)
           VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
        ).bind(d.id, d.destination.id, d.destination.workspaceId, d.kind, d.event.messageId, d.profileKey, d.filtered ? "filtered" : "pending", now, d.filtered ?? null, d.filtered ? null : JSON.stringify(d.event)),
      );
      if (!d.filtered) queued.push({ kind: "delivery", id: d.id });
    }
  }

  const audiences = all.filter((d) => kindOf(d.type)?.audiences);
  // Consent Mode values seen on this batch's events, per profile (Google reads them per operation).
  const modes = new Map<string, string>();
  for (const m of events) {
    const mode = consentModeOf(m.event.context);
    if (m.profileKey && mode) modes.set(`${m.workspaceId}\n${m.profileKey}`, JSON.stringify(mode));
  }
  for (const change of changes) {
    for (const destination of audiences) {
      if (destination.workspaceId !== change.workspaceId || !destination.segments.includes(change.segmentId)) continue;
      const pk = [destination.id, change.segmentId, change.profileKey] as const;
      if (change.member) {
        statements.push(env.DB.prepare(AUDIENCE_UPSERT).bind(...pk, change.workspaceId, modes.get(`${change.workspaceId}\n${change.profileKey}`) ?? null, change.at));
      } else {
        statements.push(
          env.DB.prepare("DELETE FROM audience_members WHERE destination_id = ? AND segment_id = ? AND profile_key = ? AND state = 'add' AND changed_at <= ?").bind(...pk, change.at),
          env.DB.prepare("UPDATE audience_members SET state = 'remove', changed_at = ? WHERE destination_id = ? AND segment_id = ? AND profile_key = ? AND state = 'added' AND changed_at <= ?").bind(change.at, ...pk, change.at),
        );
      }
      audienceJobs.add(destination.id);
    }
  }
  for (const [key, mode] of modes) {
    const [workspaceId, profileKey] = key.split("\n") as [string, string];
    if (audiences.some((d) => d.workspaceId === workspaceId)) {
      statements.push(env.DB.prepare("UPDATE audience_members SET consent_mode = ? WHERE workspace_id = ? AND profile_key = ?").bind(mode, workspaceId, profileKey));
    }
  }

  // Out of every audience: profiles whose events now refuse advertising, and forgotten profiles.
  const leaving = new Map<string, Set<string>>();
  const leave = (workspaceId: string, key: string) => leaving.set(workspaceId, (leaving.get(workspaceId) ?? new Set()).add(key));
  for (const m of events) {
    const event = m.event as ArchivedEvent;
    if (m.profileKey && event.consent?.purposes && !consentAllows(["advertising"], event.consent, event.context).ok) leave(m.workspaceId, m.profileKey);
  }
  const forgotten = new Map<string, Set<string>>();
  for (const f of forgets) {
    const keys = [f.profileKey, ...(((f as { mergedKeys?: string[] }).mergedKeys) ?? [])];
    for (const key of keys) {
      leave(f.workspaceId, key);
      if (f.archive) forgotten.set(f.workspaceId, (forgotten.get(f.workspaceId) ?? new Set()).add(key));
    }
  }
  for (const [workspaceId, keys] of leaving) {
    if (!audiences.some((d) => d.workspaceId === workspaceId)) continue;
    const list = [...keys];
    for (let i = 0; i < list.length; i += 90) {
      const part = list.slice(i, i + 90);
      const marks = part.map(() => "?").join(", ");
      statements.push(
        env.DB.prepare(`DELETE FROM audience_members WHERE workspace_id = ? AND state = 'add' AND profile_key IN (${marks})`).bind(workspaceId, ...part),
        env.DB.prepare(`UPDATE audience_members SET state = 'remove', changed_at = ? WHERE workspace_id = ? AND state = 'added' AND profile_key IN (${marks})`).bind(now, workspaceId, ...part),
      );
    }
    for (const d of audiences) if (d.workspaceId === workspaceId) audienceJobs.add(d.id);
  }
  // A profile whose data is gone (withdrawal): nothing of it waits to be sent, no payload stays.
  for (const [workspaceId, keys] of forgotten) {
    const list = [...keys];
    for (let i = 0; i < list.length; i += 90) {
      const part = list.slice(i, i + 90);
      statements.push(
        env.DB.prepare(
          `UPDATE deliveries SET payload = NULL,
             status = CASE WHEN status IN ('pending', 'retrying', 'failed') THEN 'filtered' ELSE status END,
             error = CASE WHEN status IN ('pending', 'retrying', 'failed') THEN 'the profile was forgotten' ELSE error END
           WHERE workspace_id = ? AND kind != 'audience' AND profile_key IN (${part.map(() => "?").join(", ")})`,
        ).bind(workspaceId, ...part),
      );
    }
  }

  if (statements.length > 0) await env.DB.batch(statements);
  for (const id of audienceJobs) queued.push({ kind: "audience", destinationId: id });
  await enqueueDeliveries(env.DELIVERIES, queued);
  // A lost message is found within a minute of being STALLED_AFTER_MS late, not on every batch.
  if (now < lastStalledCheck || now - lastStalledCheck >= STALLED_CHECK_MS) {
    await resendStalled(env, now);
    lastStalledCheck = now;
  }
}

/** How often (per isolate, at most) the consumer looks for stalled deliveries. */
export const STALLED_CHECK_MS = 60_000;
let lastStalledCheck = -Infinity;

/** A delivery whose queue message was lost (a send that failed after its row was written) is this late. */
export const STALLED_AFTER_MS = 10 * 60_000;

/**
 * Deliveries due long ago that nothing is working on get a new queue message. Each message
 * claims its row before sending, so a duplicate message sends nothing twice.
 */
export async function resendStalled(env: Pick<Env, "DB" | "DELIVERIES">, now: number): Promise<number> {
  const cutoff = now - STALLED_AFTER_MS;
  const { results } = await env.DB.prepare(
    `UPDATE deliveries SET next_attempt_at = ?1, lease_until = CASE WHEN status = 'sending' THEN ?1 ELSE lease_until END WHERE id IN (
       SELECT id FROM deliveries WHERE status IN ('pending', 'retrying') AND next_attempt_at < ?2
       UNION SELECT id FROM deliveries WHERE status = 'sending' AND lease_until < ?2 LIMIT 100)
     RETURNING id`,
  )
    .bind(now, cutoff)
    .all<{ id: string }>();
  await enqueueDeliveries(env.DELIVERIES, results.map((r) => ({ kind: "delivery" as const, id: r.id })));
  return results.length;
}
