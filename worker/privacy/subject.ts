/**
 * Privacy rights (DESIGN.md §3): everything held about a subject, from every store, handed over
 * (`exportSubject`) or erased (`eraseSubject`). A subject is named by a userId or an anonymousId;
 * it covers the profile that id leads to and every profile merged into it.
 *
 * What erasure leaves: the consent ledger's entries (the proof of the subject's choices, which the
 * law asks to keep), whose subject is a one-way pseudonym that nothing links back once the data is
 * gone; and the suppression entries that stop in-flight or replayed events from bringing the subject
 * back. Cloudflare's own point-in-time recovery (D1 Time Travel, 30 days; Durable Object storage
 * PITR, 30 days) still holds earlier states until it expires.
 */
import { and, eq, inArray, or, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { ledgerSubject } from "../consent/ledger";
import { parseProfileKey, profileKey, profileStub, type ProfileKey } from "../identity/keys";
import { currentKey } from "../profile/profiles";
import { forgetStatements } from "../reports/rollups";
import { consentLedger, events, failedEvents, memberships, profiles, suppressions } from "../store/schema";

export type Subject = { userId: string } | { anonymousId: string };

interface SubjectScope {
  keys: ProfileKey[];
  userIds: string[];
  anonymousIds: string[];
}

/** Every profile key and id that belongs to the subject. */
async function scope(env: Pick<Env, "PROFILES">, workspaceId: string, subject: Subject): Promise<SubjectScope> {
  const named = profileKey(workspaceId, subject)!;
  const current = await currentKey(env.PROFILES, named);
  const stub = profileStub(env.PROFILES, current);
  const merged = (await stub.mergedFrom()) as ProfileKey[];
  const keys = [...new Set([named, current, ...merged])];
  const userIds = new Set<string>();
  const anonymousIds = new Set<string>();
  for (const key of keys) {
    const parsed = parseProfileKey(key);
    if (parsed?.kind === "user") userIds.add(parsed.id);
    if (parsed?.kind === "anon") anonymousIds.add(parsed.id);
  }
  const data = await stub.exportData();
  for (const identity of data?.identities ?? []) {
    if (identity.kind === "userId") userIds.add(identity.value);
    if (identity.kind === "anonymousId") anonymousIds.add(identity.value);
  }
  for (const id of anonymousIds) keys.push(profileKey(workspaceId, { anonymousId: id })!);
  for (const id of userIds) keys.push(profileKey(workspaceId, { userId: id })!);
  return { keys: [...new Set(keys)], userIds: [...userIds], anonymousIds: [...anonymousIds] };
}

function eventFilter(workspaceId: string, s: SubjectScope): SQL {
  const parts: SQL[] = [inArray(events.profileKey, s.keys)];
  if (s.userIds.length) parts.push(inArray(events.userId, s.userIds));
  if (s.anonymousIds.length) parts.push(inArray(events.anonymousId, s.anonymousIds));
  return and(eq(events.workspaceId, workspaceId), or(...parts))!;
}

function failedFilter(workspaceId: string, s: SubjectScope): SQL {
  const ids = [...s.userIds, ...s.anonymousIds];
  const list = sql.join(ids.length ? ids.map((id) => sql`${id}`) : [sql`NULL`], sql`, `);
  return and(
    eq(failedEvents.workspaceId, workspaceId),
    sql`(json_valid(${failedEvents.payload}) AND (json_extract(${failedEvents.payload}, '$.userId') IN (${list}) OR json_extract(${failedEvents.payload}, '$.anonymousId') IN (${list})))`,
  )!;
}

export async function exportSubject(env: Pick<Env, "PROFILES" | "DB">, workspaceId: string, subject: Subject) {
  const s = await scope(env, workspaceId, subject);
  const db = drizzle(env.DB);
  const profiles = (await Promise.all(s.keys.map(async (key) => ({ key, data: await profileStub(env.PROFILES, key).exportData() })))).filter((p) => p.data);
  const pseudonyms = await Promise.all(s.keys.map(ledgerSubject));
  const [archived, failed, ledger] = await Promise.all([
    db.select().from(events).where(eventFilter(workspaceId, s)).orderBy(events.timestamp),
    db.select().from(failedEvents).where(failedFilter(workspaceId, s)).orderBy(failedEvents.receivedAt),
    db.select().from(consentLedger).where(and(eq(consentLedger.workspaceId, workspaceId), inArray(consentLedger.subject, pseudonyms))).orderBy(consentLedger.seq),
  ]);
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

export async function eraseSubject(env: Pick<Env, "PROFILES" | "DB">, workspaceId: string, subject: Subject) {
  const s = await scope(env, workspaceId, subject);
  const db = drizzle(env.DB);
  // Suppress first: from this moment the queue consumer drops the subject's in-flight events.
  await db.insert(suppressions).values(s.keys.map((profileKey) => ({ workspaceId, profileKey }))).onConflictDoNothing();
  await Promise.all(s.keys.map((key) => profileStub(env.PROFILES, key).erase()));
  const [deletedEvents, deletedFailed] = await db.batch([
    db.delete(events).where(eventFilter(workspaceId, s)),
    db.delete(failedEvents).where(failedFilter(workspaceId, s)),
    db.delete(memberships).where(and(eq(memberships.workspaceId, workspaceId), inArray(memberships.profileKey, s.keys))),
    db.delete(profiles).where(and(eq(profiles.workspaceId, workspaceId), inArray(profiles.profileKey, s.keys))),
  ]);
  await env.DB.batch(forgetStatements(env.DB, workspaceId, s.keys));
  return {
    subject,
    erasedAt: new Date().toISOString(),
    profiles: s.keys.length,
    events: deletedEvents.meta.changes,
    failedEvents: deletedFailed.meta.changes,
    suppressed: s.keys,
  };
}
