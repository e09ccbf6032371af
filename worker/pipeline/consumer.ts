/**
 * The EVENTS queue consumer: writes a batch of messages to D1 in one transaction (`db.batch`), and
 * the batch's consent ledger entries in a second one of their own (they are chained to the entries
 * other batches write at the same time: see `writeLedger`). Every write is keyed (events by
 * workspace, site and messageId, failed events and ledger entries by id, cookieless counts through a
 * messageId dedupe table), so a batch that is redelivered after a partial failure writes nothing
 * twice. A message is acked once all its rows are durable; when D1 fails, it is retried with a
 * backoff, and after `max_retries` the queue moves it to the dead-letter queue. Events of erased
 * subjects that were still in the queue are dropped here (the suppression list).
 */
import { desc, eq, inArray } from "drizzle-orm";
import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import type { CollectedEvent } from "../collect/normalise";
import { CLICK_ID_PARAMS } from "../consent/enforce";
import { entryHash, GENESIS, ledgerSubject } from "../consent/ledger";
import { consentLedger, events, failedEvents, suppressions } from "../store/schema";
import { planDeliveries } from "../activation/plan";
import { trainPrediction } from "../predictions/train";
import { runErasure } from "../privacy/erasure";
import { normaliseEmail } from "../sources/rows";
import { reportWrites } from "../reports/rollups";
import { backfillPage } from "./backfill";
import type { PipelineMessage } from "./messages";
import { retryDelaySeconds } from "./retry";
import { stripAds } from "./strip";

export { retryDelaySeconds };

/** The name column: the event of a track, the name of a page or screen. */
function eventName(event: CollectedEvent): string | null {
  if (event.type === "track") return event.event;
  if (event.type === "page" || event.type === "screen") return event.name ?? null;
  return null;
}

/** The normalised email an identify call's traits give, if any. */
function emailOf(event: CollectedEvent): string | undefined {
  if (event.type !== "identify" || typeof event.traits?.email !== "string") return undefined;
  return normaliseEmail(event.traits.email);
}

type Of<K extends PipelineMessage["kind"]> = Extract<PipelineMessage, { kind: K }>;

/** Profile keys bound in one `IN (…)` list (D1 binds at most 100 parameters a statement). */
const KEY_CHUNK = 90;
/** Archived events rewritten per D1 batch when click ids are stripped. */
const STRIP_PAGE = 200;

/**
 * Removes ad click ids from the archived events of `keys` (advertising consent withdrawn). Only
 * rows that mention a click id are read; each is rewritten once (a retry rewrites nothing more).
 */
export async function stripArchivedAds(d1: D1Database, m: Of<"strip_ads">): Promise<number> {
  const mentions = CLICK_ID_PARAMS.map((p) => `instr(payload, '"${p}"') > 0 OR instr(payload, '${p}=') > 0`).join(" OR ");
  let changed = 0;
  for (let i = 0; i < m.keys.length; i += KEY_CHUNK) {
    const chunk = m.keys.slice(i, i + KEY_CHUNK);
    let after = 0;
    for (;;) {
      const { results } = await d1
        .prepare(`SELECT rowid AS id, payload FROM events WHERE workspace_id = ? AND profile_key IN (${chunk.map(() => "?").join(", ")}) AND rowid > ? AND (${mentions}) ORDER BY rowid LIMIT ${STRIP_PAGE}`)
        .bind(m.workspaceId, ...chunk, after)
        .all<{ id: number; payload: string }>();
      const updates: D1PreparedStatement[] = [];
      for (const row of results) {
        const event = JSON.parse(row.payload) as Record<string, unknown>;
        const stripped = stripAds(event);
        if (stripped !== event) updates.push(d1.prepare("UPDATE events SET payload = ? WHERE rowid = ?").bind(JSON.stringify(stripped), row.id));
      }
      if (updates.length > 0) await d1.batch(updates);
      changed += updates.length;
      if (results.length < STRIP_PAGE) break;
      after = results.at(-1)!.id;
    }
  }
  return changed;
}

async function suppressedKeys(db: DrizzleD1Database, messages: { profileKey: string | null }[]): Promise<Set<string>> {
  const keys = [...new Set(messages.map((m) => m.profileKey).filter((k): k is string => k !== null))];
  const found = new Set<string>();
  for (let i = 0; i < keys.length; i += 90) {
    const rows = await db.select({ key: suppressions.profileKey }).from(suppressions).where(inArray(suppressions.profileKey, keys.slice(i, i + 90)));
    for (const row of rows) found.add(row.key);
  }
  return found;
}

/** A drizzle query as a D1 statement, so raw and built statements share one `DB.batch`. */
type Writable = { toSQL(): { sql: string; params: unknown[] } };
const statement = (d1: D1Database, query: Writable) => {
  const { sql: text, params } = query.toSQL();
  return d1.prepare(text).bind(...params);
};

/** Ledger rows chained after each site's last entry (entries already written are skipped). */
async function ledgerWrites(d1: D1Database, db: DrizzleD1Database, messages: Of<"consent">[], dataSecret: string): Promise<D1PreparedStatement[]> {
  if (messages.length === 0) return [];
  const existing = new Set<string>();
  const ids = messages.map((m) => m.id);
  for (let i = 0; i < ids.length; i += 90) {
    for (const row of await db.select({ id: consentLedger.id }).from(consentLedger).where(inArray(consentLedger.id, ids.slice(i, i + 90)))) existing.add(row.id);
  }
  const last = new Map<string, string>();
  const writes: D1PreparedStatement[] = [];
  for (const m of messages) {
    if (existing.has(m.id)) continue;
    if (!last.has(m.siteId)) {
      const [row] = await db.select({ hash: consentLedger.hash }).from(consentLedger).where(eq(consentLedger.siteId, m.siteId)).orderBy(desc(consentLedger.seq)).limit(1);
      last.set(m.siteId, row?.hash ?? GENESIS);
    }
    const entry = {
      id: m.id,
      siteId: m.siteId,
      workspaceId: m.workspaceId,
      subject: m.subject === null ? null : await ledgerSubject(m.subject, dataSecret),
      at: m.at,
      signals: JSON.stringify(m.signals),
      consent: JSON.stringify(m.consent),
      policyVersion: m.consent.policyVersion,
      prevHash: last.get(m.siteId)!,
    };
    const hash = await entryHash(entry);
    last.set(m.siteId, hash);
    writes.push(statement(d1, db.insert(consentLedger).values({ ...entry, at: new Date(entry.at), hash })));
  }
  return writes;
}

/** The D1 statements of each message of the batch (a message may need several, or none), ledger entries aside. */
async function statementsOf(batch: MessageBatch<PipelineMessage>, env: Pick<Env, "DB" | "DATA_SECRET">): Promise<Map<Message<PipelineMessage>, D1PreparedStatement[]>> {
  const db = drizzle(env.DB);
  const byMessage = new Map<Message<PipelineMessage>, D1PreparedStatement[]>(batch.messages.filter((m) => !isWork(m.body)).map((m) => [m, []]));
  const of = <K extends PipelineMessage["kind"]>(kind: K) =>
    batch.messages.filter((m): m is Message<Of<K>> => m.body.kind === kind);
  const suppressed = await suppressedKeys(db, [...of("event"), ...of("membership")].map((m) => m.body));
  for (const message of of("event")) {
    const { body } = message;
    if (body.profileKey && suppressed.has(body.profileKey)) continue;
    const event = body.event;
    byMessage.get(message)!.push(
      statement(
        env.DB,
        db
          .insert(events)
          .values({
            workspaceId: body.workspaceId,
            messageId: event.messageId,
            siteId: body.siteId,
            type: event.type,
            name: eventName(event),
            profileKey: body.profileKey,
            userId: event.userId ?? null,
            anonymousId: event.anonymousId ?? null,
            bot: event.context.bot === true,
            timestamp: new Date(event.timestamp),
            receivedAt: new Date(event.receivedAt),
            payload: JSON.stringify(event),
          })
          .onConflictDoNothing(),
      ),
    );
  }
  for (const message of of("event")) {
    const { body } = message;
    if (!body.profileKey || suppressed.has(body.profileKey)) continue;
    byMessage.get(message)!.push(
      env.DB.prepare(
        "INSERT INTO profiles (workspace_id, profile_key, last_seen) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
      ).bind(body.workspaceId, body.profileKey, Date.parse(body.event.timestamp)),
    );
  }
  for (const message of of("event")) {
    const { body } = message;
    const email = emailOf(body.event);
    if (!body.profileKey || suppressed.has(body.profileKey) || !email) continue;
    // The email index (store/schema.ts profileEmails): the latest identify naming an email wins.
    byMessage.get(message)!.push(
      env.DB.prepare(
        `INSERT INTO profile_emails (workspace_id, email, profile_key, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (workspace_id, email) DO UPDATE SET profile_key = excluded.profile_key, updated_at = excluded.updated_at WHERE excluded.updated_at >= profile_emails.updated_at`,
      ).bind(body.workspaceId, email, body.profileKey, Date.parse(body.event.timestamp)),
    );
  }
  for (const message of of("membership")) {
    const m = message.body;
    if (suppressed.has(m.profileKey)) continue;
    // An older change arriving late does not overwrite a newer one.
    byMessage.get(message)!.push(
      env.DB.prepare(
        `INSERT INTO memberships (segment_id, profile_key, workspace_id, member, changed_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (segment_id, profile_key) DO UPDATE SET member = excluded.member, changed_at = excluded.changed_at
         WHERE excluded.changed_at >= memberships.changed_at`,
      ).bind(m.segmentId, m.profileKey, m.workspaceId, m.member ? 1 : 0, m.at),
    );
  }
  for (const message of of("forget")) {
    const f = message.body;
    const statements = byMessage.get(message)!;
    const keys = [...new Set([f.profileKey, ...(f.mergedKeys ?? [])])];
    // D1 binds at most 100 parameters a statement: the keys go in chunks.
    for (let i = 0; i < keys.length; i += KEY_CHUNK) {
      const chunk = keys.slice(i, i + KEY_CHUNK);
      const list = chunk.map(() => "?").join(", ");
      statements.push(
        env.DB.prepare(`DELETE FROM memberships WHERE workspace_id = ? AND profile_key IN (${list})`).bind(f.workspaceId, ...chunk),
        env.DB.prepare(`DELETE FROM profiles WHERE workspace_id = ? AND profile_key IN (${list})`).bind(f.workspaceId, ...chunk),
        env.DB.prepare(`DELETE FROM profile_emails WHERE workspace_id = ? AND profile_key IN (${list})`).bind(f.workspaceId, ...chunk),
      );
      if (f.archive) statements.push(env.DB.prepare(`DELETE FROM events WHERE workspace_id = ? AND profile_key IN (${list})`).bind(f.workspaceId, ...chunk));
    }
  }
  for (const message of of("failed")) {
    const { kind: _kind, receivedAt, ...row } = message.body;
    byMessage.get(message)!.push(statement(env.DB, db.insert(failedEvents).values({ ...row, receivedAt: new Date(receivedAt) }).onConflictDoNothing()));
  }
  for (const message of of("cookieless")) {
    const c = message.body;
    // The count moves only when the messageId is new to this site (changes() of the insert before).
    byMessage.get(message)!.push(
      env.DB.prepare("INSERT INTO cookieless_seen (message_id, site_id, day) VALUES (?, ?, ?) ON CONFLICT DO NOTHING").bind(c.messageId, c.siteId, c.day),
      env.DB.prepare(
        `INSERT INTO cookieless_counts (site_id, day, type, name, count) SELECT ?, ?, ?, ?, 1 WHERE changes() = 1
         ON CONFLICT (site_id, day, type, name) DO UPDATE SET count = count + 1`,
      ).bind(c.siteId, c.day, c.type, c.name),
    );
  }
  // A consent message's ledger entry is written apart (writeLedger); its report rows are here.
  for (const [message, statements] of await reportWrites(env.DB, batch.messages, suppressed)) byMessage.get(message)?.push(...statements);
  return byMessage;
}

/** Messages that are work to do rather than rows to write: each runs (and is retried) on its own. */
const WORK = new Set<PipelineMessage["kind"]>(["backfill", "strip_ads", "erase", "train"]);
const isWork = (body: PipelineMessage) => WORK.has(body.kind);

/** Runs one work message; true when it is finished. */
async function work(body: PipelineMessage, env: Pick<Env, "DB" | "PROFILES" | "EVENTS">): Promise<boolean> {
  switch (body.kind) {
    case "backfill":
      await backfillPage(env, body);
      return true;
    case "strip_ads":
      await stripArchivedAds(env.DB, body);
      return true;
    case "erase":
      // An unknown request (deleted, or of another deployment) has nothing left to do.
      return ((await runErasure(env, body.id, Date.now()))?.status ?? "done") === "done";
    case "train":
      // A deleted prediction has nothing to train.
      await trainPrediction(env, body.predictionId, Date.now());
      return true;
    default:
      return true;
  }
}

/** Runs each work message on its own: acked when finished, else retried with a backoff. */
async function runWork(messages: readonly Message<PipelineMessage>[], env: Pick<Env, "DB" | "PROFILES" | "EVENTS">): Promise<void> {
  for (const message of messages) {
    try {
      if (await work(message.body, env)) message.ack();
      else message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    } catch (error) {
      console.error(`${message.body.kind} message failed; retrying`, error);
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}

export async function consumeEvents(batch: MessageBatch<PipelineMessage>, env: Pick<Env, "DB" | "PROFILES" | "EVENTS" | "DELIVERIES" | "DATA_SECRET">): Promise<void> {
  // Backfill pages first; then the batch's rows; then the work that rewrites or deletes archived
  // rows (strip_ads, erase), so it covers the events that travelled in the same batch too.
  await runWork(batch.messages.filter((m) => m.body.kind === "backfill"), env);
  await writeRows(batch, env);
  await runWork(batch.messages.filter((m) => m.body.kind === "strip_ads" || m.body.kind === "erase"), env);
  // Training reads the archive: after the rows of the same batch are in.
  await runWork(batch.messages.filter((m) => m.body.kind === "train"), env);
}

async function writeRows(batch: MessageBatch<PipelineMessage>, env: Pick<Env, "DB" | "PROFILES" | "EVENTS" | "DELIVERIES" | "DATA_SECRET">): Promise<void> {
  let byMessage: Map<Message<PipelineMessage>, D1PreparedStatement[]>;
  try {
    byMessage = await statementsOf(batch, env);
  } catch (error) {
    // D1 could not even be read: nothing was written, everything is retried.
    const attempts = Math.max(...batch.messages.map((m) => m.attempts));
    console.error(`D1 read for ${batch.messages.length} messages failed (attempt ${attempts})`, error);
    if (batch.messages.every((m) => !isWork(m.body))) batch.retryAll({ delaySeconds: retryDelaySeconds(attempts) });
    else for (const message of batch.messages) if (!isWork(message.body)) message.retry({ delaySeconds: retryDelaySeconds(attempts) });
    return;
  }
  const written = await writeMessageRows(env, byMessage);
  const consent = [...byMessage.keys()].filter((m): m is Message<Of<"consent">> => m.body.kind === "consent");
  let ledgerWritten = true;
  if (consent.length > 0) {
    try {
      await writeLedger(env, consent.map((m) => m.body));
    } catch (error) {
      console.error(`the ledger entries of ${consent.length} consent message(s) failed; retrying`, error);
      ledgerWritten = false;
    }
  }
  const done = (message: Message<PipelineMessage>) => written.has(message) && (message.body.kind !== "consent" || ledgerWritten);
  if (byMessage.size === batch.messages.length && [...byMessage.keys()].every(done)) return batch.ackAll();
  for (const message of byMessage.keys()) {
    if (done(message)) message.ack();
    else message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}

/**
 * Writes the messages' rows in one D1 batch and plans their deliveries; when D1 refuses the batch,
 * each message alone, so that one message D1 refuses does not hold back the others. Answers the
 * messages whose rows are durable and whose deliveries are planned.
 */
async function writeMessageRows(env: Pick<Env, "DB" | "DELIVERIES">, byMessage: Map<Message<PipelineMessage>, D1PreparedStatement[]>): Promise<Set<Message<PipelineMessage>>> {
  // Activation: what was written owes deliveries to destinations (worker/activation/plan.ts).
  const owesDeliveries = (message: Message<PipelineMessage>, statements: D1PreparedStatement[]) => statements.length > 0 || message.body.kind === "forget";
  try {
    const all = [...byMessage.values()].flat();
    if (all.length > 0) await env.DB.batch(all);
    await planDeliveries(env, [...byMessage].filter(([m, s]) => owesDeliveries(m, s)).map(([m]) => m.body));
    return new Set(byMessage.keys());
  } catch (error) {
    console.error(`D1 write of ${byMessage.size} messages failed; writing each alone`, error);
  }
  const written = new Set<Message<PipelineMessage>>();
  for (const [message, statements] of byMessage) {
    try {
      if (statements.length > 0) await env.DB.batch(statements);
      if (owesDeliveries(message, statements)) await planDeliveries(env, [message.body]);
      written.add(message);
    } catch (error) {
      console.error(`a message of kind ${message.body.kind} failed; retrying`, error);
    }
  }
  return written;
}

/** Ledger writes chained again at once after meeting another batch's entries, before the queue's retry. */
const LEDGER_ATTEMPTS = 5;

/** Another batch chained an entry after the tail this one read (or wrote one of its entries). */
const chainConflict = (error: unknown) => /UNIQUE constraint failed: consent_ledger\./.test(error instanceof Error ? error.message : String(error));

/**
 * Writes the ledger entries of a batch's consent messages, in a D1 batch of their own. Two batches
 * that read the same tail of a site's chain conflict on its unique index (site_id, prev_hash), and
 * D1 rolls the loser's batch back whole; the loser reads the tail again and chains its entries after
 * the winner's at once (a few times, after a short jittered pause), rather than waiting for the
 * queue's backoff. Entries already written are skipped, so each is written once; it throws when
 * D1 fails otherwise, or the conflicts outlast the attempts.
 */
async function writeLedger(env: Pick<Env, "DB" | "DATA_SECRET">, messages: Of<"consent">[]): Promise<void> {
  const db = drizzle(env.DB);
  for (let attempt = 1; ; attempt++) {
    const statements = await ledgerWrites(env.DB, db, messages, env.DATA_SECRET);
    if (statements.length === 0) return;
    try {
      await env.DB.batch(statements);
      return;
    } catch (error) {
      if (!chainConflict(error) || attempt >= LEDGER_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
    }
  }
}
