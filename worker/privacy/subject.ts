/**
 * Privacy rights (DESIGN.md §3): everything held about a subject, from every store, handed over
 * (`exportSubject`); erasure is a resumable job over the same scope (`erasure.ts`). A subject is
 * named by a userId or an anonymousId; it covers the profile that id leads to, every profile
 * merged into it (and into those), and every id those profiles know.
 *
 * What erasure leaves: the consent ledger's entries (the proof of the subject's choices, which the
 * law asks to keep), whose subject is a one-way pseudonym of the profile key; and the suppression
 * entries that stop in-flight or replayed events from bringing the subject back. Cloudflare's own
 * point-in-time recovery (D1 Time Travel, 30 days; Durable Object storage PITR, 30 days) still
 * holds earlier states until it expires.
 */
import { and, eq, inArray, or, sql, type Column } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { legacyLedgerSubject, ledgerSubject } from "../consent/ledger";
import { parseProfileKey, profileKey, profileStub, type ProfileKey } from "../identity/keys";
import { currentKey } from "../profile/profiles";
import { consentLedger, events, failedEvents } from "../store/schema";

export type Subject = { userId: string } | { anonymousId: string };

export interface SubjectScope {
  keys: ProfileKey[];
  userIds: string[];
  anonymousIds: string[];
}

/** A subject's scope stops growing here (a profile keeps far fewer merged ids than this). */
export const MAX_SCOPE_KEYS = 2_000;
/** Ids bound in one `IN (…)` list (D1 binds at most 100 parameters a statement). */
const CHUNK = 45;

/**
 * Every profile key and id that belongs to the subject: the profile the named id leads to, then,
 * until nothing new turns up, the profiles merged into each key found and the ids each one holds.
 */
export async function scopeOf(env: Pick<Env, "PROFILES">, workspaceId: string, subject: Subject): Promise<SubjectScope> {
  const named = profileKey(workspaceId, subject)!;
  const keys = new Set<ProfileKey>([named, await currentKey(env.PROFILES, named)]);
  const userIds = new Set<string>();
  const anonymousIds = new Set<string>();
  const visited = new Set<ProfileKey>();
  const add = (key: ProfileKey) => {
    if (keys.size < MAX_SCOPE_KEYS) keys.add(key);
  };
  for (;;) {
    const next = [...keys].filter((key) => !visited.has(key));
    if (next.length === 0) break;
    for (let i = 0; i < next.length; i += 10) {
      const slice = next.slice(i, i + 10);
      const found = await Promise.all(slice.map((key) => profileStub(env.PROFILES, key).exportData()));
      slice.forEach((key, j) => {
        visited.add(key);
        const data = found[j];
        for (const merged of data?.mergedFrom ?? []) add(merged as ProfileKey);
        if (data?.mergedInto) add(data.mergedInto as ProfileKey);
        for (const identity of data?.identities ?? []) {
          if (identity.kind === "userId") add(profileKey(workspaceId, { userId: identity.value })!);
          if (identity.kind === "anonymousId") add(profileKey(workspaceId, { anonymousId: identity.value })!);
        }
      });
    }
  }
  for (const key of keys) {
    const parsed = parseProfileKey(key);
    if (parsed?.kind === "user") userIds.add(parsed.id);
    if (parsed?.kind === "anon") anonymousIds.add(parsed.id);
  }
  return { keys: [...keys], userIds: [...userIds], anonymousIds: [...anonymousIds] };
}

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

/** One query per chunk of ids, rows merged (each row once). */
async function inChunks<R>(ids: string[], query: (chunk: string[]) => Promise<R[]>, keyOf: (row: R) => string): Promise<R[]> {
  const rows = new Map<string, R>();
  for (const chunk of chunks(ids)) for (const row of await query(chunk)) rows.set(keyOf(row), row);
  return [...rows.values()];
}

export async function exportSubject(env: Pick<Env, "PROFILES" | "DB" | "DATA_SECRET">, workspaceId: string, subject: Subject) {
  const s = await scopeOf(env, workspaceId, subject);
  const db = drizzle(env.DB);
  const profiles = (await Promise.all(s.keys.map(async (key) => ({ key, data: await profileStub(env.PROFILES, key).exportData() })))).filter((p) => p.data);
  const pseudonyms = await Promise.all(s.keys.flatMap((key) => [ledgerSubject(key, env.DATA_SECRET), legacyLedgerSubject(key)]));
  const eventKey = (row: typeof events.$inferSelect) => JSON.stringify([row.siteId, row.messageId]);
  const byColumn = (column: Column, ids: string[]) =>
    inChunks(ids, (chunk) => db.select().from(events).where(and(eq(events.workspaceId, workspaceId), inArray(column, chunk))), eventKey);
  const archived = [...new Map([...(await byColumn(events.profileKey, s.keys)), ...(await byColumn(events.userId, s.userIds)), ...(await byColumn(events.anonymousId, s.anonymousIds))].map((r) => [eventKey(r), r])).values()]
    .sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime());
  const failed = (
    await inChunks(
      [...s.userIds, ...s.anonymousIds],
      (chunk) => {
        const list = sql.join(chunk.map((id) => sql`${id}`), sql`, `);
        return db
          .select()
          .from(failedEvents)
          .where(
            and(
              eq(failedEvents.workspaceId, workspaceId),
              or(
                sql`(json_valid(${failedEvents.payload}) AND CAST(json_extract(${failedEvents.payload}, '$.userId') AS TEXT) IN (${list}))`,
                sql`(json_valid(${failedEvents.payload}) AND CAST(json_extract(${failedEvents.payload}, '$.anonymousId') AS TEXT) IN (${list}))`,
              ),
            ),
          );
      },
      (row) => row.id,
    )
  ).sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
  const ledger = (
    await inChunks(pseudonyms, (chunk) => db.select().from(consentLedger).where(and(eq(consentLedger.workspaceId, workspaceId), inArray(consentLedger.subject, chunk))), (row) => row.id)
  ).sort((a, b) => a.seq - b.seq);
  return {
    subject,
    generatedAt: new Date().toISOString(),
    identities: { userIds: s.userIds, anonymousIds: s.anonymousIds, profileKeys: s.keys },
    profiles,
    events: archived.map(({ payload, ...row }) => ({ ...row, event: JSON.parse(payload) })),
    failedEvents: failed,
    consentLedger: ledger.map((row) => ({ ...row, signals: JSON.parse(row.signals), consent: JSON.parse(row.consent) })),
  };
}
