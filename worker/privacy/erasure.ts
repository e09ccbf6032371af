/**
 * Erasure as a resumable job (DESIGN.md §3, privacy requests). A request is a row of
 * `privacy_requests`; its first step saves the subject's full scope (every profile key and id,
 * found through the profiles) before anything is erased, so a retry after a failure midway still
 * knows everything that belongs to the subject even once the profiles are gone. Each later step is
 * idempotent and works in chunks (D1 binds at most 100 parameters a statement), and records its
 * progress in the same D1 batch as its deletes. The request says `done` only when every step is.
 *
 * Who runs it: the admin's request (inline), then the EVENTS queue (`{kind:"erase"}`, retried with
 * a backoff) and the daily cron for anything still unfinished. A lease keeps two runners apart.
 */
import { profileStub, type ProfileKey } from "../identity/keys";
import { retryDelaySeconds } from "../pipeline/retry";
import { forgetStatements } from "../reports/rollups";
import { scopeOf, type Subject, type SubjectScope } from "./subject";

export const ERASE_STEPS = ["scope", "suppress", "profiles", "events", "failedEvents", "memberships", "index", "reports"] as const;
export type EraseStep = (typeof ERASE_STEPS)[number];
type Steps = Record<EraseStep, { done: boolean; count: number }>;

export type ErasureStatus = "running" | "retrying" | "done";

export interface ErasureView {
  id: string;
  kind: "erase";
  status: ErasureStatus;
  steps: { name: EraseStep; done: boolean; count: number }[];
  attempts: number;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  doneAt: string | null;
}

/** Ids a statement binds at most in one `IN (…)` list (D1's limit is 100 parameters a statement). */
export const CHUNK = 45;
/** How long a runner holds a request before another may take it over. */
export const LEASE_MS = 60_000;

type ErasureEnv = Pick<Env, "DB" | "PROFILES">;

interface Row {
  id: string;
  workspace_id: string;
  subject: string | null;
  scope: string | null;
  status: ErasureStatus;
  steps: string;
  attempts: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  done_at: number | null;
}

const emptySteps = (): Steps => Object.fromEntries(ERASE_STEPS.map((s) => [s, { done: false, count: 0 }])) as Steps;

function viewOf(row: Row): ErasureView {
  const steps = { ...emptySteps(), ...(JSON.parse(row.steps) as Partial<Steps>) };
  return {
    id: row.id,
    kind: "erase",
    status: row.status,
    steps: ERASE_STEPS.map((name) => ({ name, ...steps[name] })),
    attempts: row.attempts,
    lastError: row.last_error,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    doneAt: row.done_at === null ? null : new Date(row.done_at).toISOString(),
  };
}

const readRow = (db: D1Database, id: string) => db.prepare("SELECT * FROM privacy_requests WHERE id = ?").bind(id).first<Row>();

export async function getErasure(db: D1Database, workspaceId: string, id: string): Promise<ErasureView | null> {
  const row = await readRow(db, id);
  return row && row.workspace_id === workspaceId ? viewOf(row) : null;
}

/** The workspace's privacy requests, newest first (the dashboard's privacy page lists them). */
export async function listErasures(db: D1Database, workspaceId: string, limit = 50): Promise<ErasureView[]> {
  const { results } = await db.prepare("SELECT * FROM privacy_requests WHERE workspace_id = ? ORDER BY created_at DESC LIMIT ?").bind(workspaceId, limit).all<Row>();
  return results.map(viewOf);
}

const subjectText = (subject: Subject) => JSON.stringify("userId" in subject ? { userId: subject.userId } : { anonymousId: subject.anonymousId });

/**
 * The unfinished request for this subject, or a new one. Asking again while a request runs resumes
 * it instead of starting over: a fresh scope, taken after some profiles were erased, would miss
 * what only those profiles knew.
 */
export async function openErasure(db: D1Database, workspaceId: string, subject: Subject, now: number): Promise<string> {
  const text = subjectText(subject);
  const open = await db
    .prepare("SELECT id FROM privacy_requests WHERE workspace_id = ? AND kind = 'erase' AND status != 'done' AND subject = ? ORDER BY created_at LIMIT 1")
    .bind(workspaceId, text)
    .first<{ id: string }>();
  if (open) return open.id;
  const id = `pr_${crypto.randomUUID()}`;
  await db
    .prepare("INSERT INTO privacy_requests (id, workspace_id, kind, subject, status, steps, created_at, updated_at) VALUES (?, ?, 'erase', ?, 'running', ?, ?, ?)")
    .bind(id, workspaceId, text, JSON.stringify(emptySteps()), now, now)
    .run();
  return id;
}

/** The statement that adds the previous statement's `changes()` to a step's count. */
const countChanges = (db: D1Database, id: string, step: EraseStep, now: number) =>
  db
    .prepare(`UPDATE privacy_requests SET steps = json_set(steps, '$.${step}.count', coalesce(json_extract(steps, '$.${step}.count'), 0) + changes()), updated_at = ? WHERE id = ?`)
    .bind(now, id);

const markDone = (db: D1Database, id: string, step: EraseStep, now: number, count?: number) =>
  db
    .prepare(
      count === undefined
        ? `UPDATE privacy_requests SET steps = json_set(steps, '$.${step}.done', json('true')), updated_at = ? WHERE id = ?`
        : `UPDATE privacy_requests SET steps = json_set(steps, '$.${step}.done', json('true'), '$.${step}.count', ${Math.trunc(count)}), updated_at = ? WHERE id = ?`,
    )
    .bind(now, id)
    .run();

function chunks<T>(items: T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const marks = (n: number) => Array.from({ length: n }, () => "?").join(", ");

/** Runs `statement(chunk)` over each chunk of `ids`, counting what it changed in the same batch. */
async function deleteInChunks(db: D1Database, id: string, step: EraseStep, now: number, ids: string[], statement: (chunk: string[]) => D1PreparedStatement) {
  for (const chunk of chunks(ids)) await db.batch([statement(chunk), countChanges(db, id, step, now)]);
}

async function runStep(env: ErasureEnv, row: Row, step: EraseStep, scope: SubjectScope | null, now: number): Promise<SubjectScope | null> {
  const db = env.DB;
  const ws = row.workspace_id;
  if (step === "scope") {
    const subject = JSON.parse(row.subject!) as Subject;
    const found = await scopeOf(env, ws, subject);
    await db
      .prepare(
        `UPDATE privacy_requests SET scope = ?, steps = json_set(steps, '$.scope.done', json('true'), '$.scope.count', ?), updated_at = ? WHERE id = ?`,
      )
      .bind(JSON.stringify(found), found.keys.length, now, row.id)
      .run();
    return found;
  }
  const s = scope!;
  switch (step) {
    case "suppress":
      // First: from here on the queue consumer drops the subject's in-flight and replayed events.
      for (const chunk of chunks(s.keys)) {
        await db
          .prepare(`INSERT INTO suppressions (workspace_id, profile_key) VALUES ${chunk.map(() => "(?, ?)").join(", ")} ON CONFLICT DO NOTHING`)
          .bind(...chunk.flatMap((key) => [ws, key]))
          .run();
      }
      await markDone(db, row.id, step, now, s.keys.length);
      break;
    case "profiles":
      // `erase` is idempotent: an erased profile keeps only its tombstone.
      for (const chunk of chunks(s.keys, 10)) await Promise.all(chunk.map((key) => profileStub(env.PROFILES, key as ProfileKey).erase()));
      await markDone(db, row.id, step, now, s.keys.length);
      break;
    case "events":
      await deleteInChunks(db, row.id, step, now, s.keys, (c) => db.prepare(`DELETE FROM events WHERE workspace_id = ? AND profile_key IN (${marks(c.length)})`).bind(ws, ...c));
      await deleteInChunks(db, row.id, step, now, s.userIds, (c) => db.prepare(`DELETE FROM events WHERE workspace_id = ? AND user_id IN (${marks(c.length)})`).bind(ws, ...c));
      await deleteInChunks(db, row.id, step, now, s.anonymousIds, (c) => db.prepare(`DELETE FROM events WHERE workspace_id = ? AND anonymous_id IN (${marks(c.length)})`).bind(ws, ...c));
      await markDone(db, row.id, step, now);
      break;
    case "failedEvents":
      // A refused event's ids are as sent: `42` is a JSON number, compared as the text "42".
      await deleteInChunks(db, row.id, step, now, [...s.userIds, ...s.anonymousIds], (c) =>
        db
          .prepare(
            `DELETE FROM failed_events WHERE workspace_id = ? AND json_valid(payload)
             AND (CAST(json_extract(payload, '$.userId') AS TEXT) IN (${marks(c.length)}) OR CAST(json_extract(payload, '$.anonymousId') AS TEXT) IN (${marks(c.length)}))`,
          )
          .bind(ws, ...c, ...c),
      );
      await markDone(db, row.id, step, now);
      break;
    case "memberships":
      await deleteInChunks(db, row.id, step, now, s.keys, (c) => db.prepare(`DELETE FROM memberships WHERE workspace_id = ? AND profile_key IN (${marks(c.length)})`).bind(ws, ...c));
      await markDone(db, row.id, step, now);
      break;
    case "index":
      await deleteInChunks(db, row.id, step, now, s.keys, (c) => db.prepare(`DELETE FROM profiles WHERE workspace_id = ? AND profile_key IN (${marks(c.length)})`).bind(ws, ...c));
      await markDone(db, row.id, step, now);
      break;
    case "reports":
      // The per-visitor report rows (journeys, funnels); aggregate counts hold no identifier and stay.
      await db.batch(forgetStatements(db, ws, s.keys));
      await markDone(db, row.id, step, now, s.keys.length);
      break;
  }
  return s;
}

/**
 * Runs the request's remaining steps. Never throws for a failing step: the request is left
 * `retrying` with the error, and its view says so (the caller schedules the retry).
 */
export async function runErasure(env: ErasureEnv, id: string, now: number): Promise<ErasureView | null> {
  const db = env.DB;
  const taken = await db
    .prepare(
      "UPDATE privacy_requests SET lease_until = ?, attempts = attempts + 1, status = 'running', updated_at = ? WHERE id = ? AND status != 'done' AND (lease_until IS NULL OR lease_until < ?)",
    )
    .bind(now + LEASE_MS, now, id, now)
    .run();
  if (taken.meta.changes === 0) {
    const row = await readRow(db, id);
    return row ? viewOf(row) : null;
  }
  // Held from here: whatever fails below releases the lease and leaves the request `retrying`.
  let row: Row | null = null;
  try {
    row = await readRow(db, id);
    if (!row) return null;
    const steps = { ...emptySteps(), ...(JSON.parse(row.steps) as Partial<Steps>) };
    let scope = row.scope === null ? null : (JSON.parse(row.scope) as SubjectScope);
    for (const step of ERASE_STEPS) {
      if (steps[step].done) continue;
      scope = await runStep(env, row, step, scope, now);
    }
    // Done: only the counts stay; the subject and its ids leave the request row.
    await db.prepare("UPDATE privacy_requests SET status = 'done', subject = NULL, scope = NULL, lease_until = NULL, last_error = NULL, done_at = ?, updated_at = ? WHERE id = ?").bind(now, now, id).run();
  } catch (error) {
    console.error(`erasure ${id} stopped; it will be resumed`, error);
    try {
      await db.prepare("UPDATE privacy_requests SET status = 'retrying', lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ?").bind(String((error as Error).message ?? error).slice(0, 500), now, id).run();
    } catch {
      // D1 is down: the lease runs out and the next runner takes the request over.
    }
  }
  const after = await readRow(db, id).catch(() => null);
  if (after) return viewOf(after);
  return row ? { ...viewOf(row), status: "retrying", lastError: "D1 is unavailable" } : null;
}

/** The queue message that resumes a request. */
export const erasureMessage = (workspaceId: string, id: string) => ({ kind: "erase" as const, workspaceId, id });

/** Queues a resumption of the request, after the backoff of its attempts. */
export async function scheduleErasure(queue: Queue, workspaceId: string, view: ErasureView): Promise<void> {
  await queue.send(erasureMessage(workspaceId, view.id), { contentType: "json", delaySeconds: retryDelaySeconds(view.attempts) });
}

/** The cron's sweep: every unfinished request whose lease ran out, oldest first. */
export async function resumeErasures(env: ErasureEnv, now: number, limit = 20): Promise<{ resumed: number; done: number }> {
  const { results } = await env.DB.prepare("SELECT id FROM privacy_requests WHERE status != 'done' AND (lease_until IS NULL OR lease_until < ?) ORDER BY updated_at LIMIT ?")
    .bind(now, limit)
    .all<{ id: string }>();
  let done = 0;
  for (const { id } of results) if ((await runErasure(env, id, now))?.status === "done") done++;
  return { resumed: results.length, done };
}
