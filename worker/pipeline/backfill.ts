/**
 * Segment backfill, one page of profiles per queue message: each profile's Durable Object
 * re-evaluates the workspace's segments, its entries and exits go to the memberships index (and to
 * the archive, under the site the profile was last seen on), the page records itself in
 * `backfill_progress`, and only then is the next page queued.
 *
 * One chain per segment version: a page records itself by compare-and-set on the page before it,
 * so of two deliveries of the same page only one moves the chain on; a page whose own record is
 * there (its retry) only finishes handing over the next page. A profile already evaluated reports
 * no change the second time, so re-running a page is safe.
 */
import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { profileStub, type ProfileKey } from "../identity/keys";
import { definitionsOf } from "../store/definitions";
import { liveModels } from "../store/predictions";
import { BACKFILL_PAGE, forgetSegments, getSegment, liveSegments, profileCount, profilePage, ruleOf, type SegmentRow } from "../store/segments";
import { segments } from "../store/schema";
import { enqueue, membershipMessages, type PipelineMessage } from "./messages";

const PARALLEL = 10;
const FIRST_PAGE = "first";

type BackfillMessage = Extract<PipelineMessage, { kind: "backfill" }>;

interface Progress {
  page: string;
  from_cursor: string | null;
  to_cursor: string | null;
  next_page: string;
  queued: number;
}

/**
 * The site each profile was last seen on (from its archived events), else the workspace's first
 * site: an event archived under a real site is purged by that site's retention.
 */
async function sitesOf(db: D1Database, workspaceId: string, keys: string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  if (keys.length === 0) return found;
  const { results } = await db
    .prepare(
      `SELECT profile_key AS key, site_id AS site, MAX(received_at) AS at FROM events
       WHERE workspace_id = ? AND site_id != '' AND profile_key IN (${keys.map(() => "?").join(", ")}) GROUP BY profile_key`,
    )
    .bind(workspaceId, ...keys)
    .all<{ key: string; site: string }>();
  for (const row of results) found.set(row.key, row.site);
  if (found.size < keys.length) {
    const first = await db.prepare("SELECT id FROM sites WHERE workspace_id = ? ORDER BY created_at, id LIMIT 1").bind(workspaceId).first<{ id: string }>();
    for (const key of keys) if (!found.has(key) && first) found.set(key, first.id);
  }
  return found;
}

const readProgress = (db: D1Database, m: BackfillMessage) =>
  db.prepare("SELECT page, from_cursor, to_cursor, next_page, queued FROM backfill_progress WHERE segment_id = ? AND version = ?").bind(m.segmentId, m.version).first<Progress>();

/** Queues the page after `progress` (when there is one) and notes that it was handed over. */
async function handOver(env: Pick<Env, "DB" | "EVENTS">, m: BackfillMessage, progress: Pick<Progress, "page" | "to_cursor" | "next_page">) {
  if (progress.to_cursor !== null) await enqueue(env.EVENTS, [{ ...m, cursor: progress.to_cursor, page: progress.next_page }]);
  await env.DB.prepare("UPDATE backfill_progress SET queued = 1 WHERE segment_id = ? AND version = ? AND page = ?").bind(m.segmentId, m.version, progress.page).run();
}

export async function backfillPage(env: Pick<Env, "DB" | "PROFILES" | "EVENTS">, message: BackfillMessage): Promise<void> {
  const row = await getSegment(env.DB, message.workspaceId, message.segmentId);
  // Deleted, or changed again since: the newer version's backfill does the work.
  if (!row || row.version !== message.version) return;
  const page = message.page ?? FIRST_PAGE;
  const before = await readProgress(env.DB, message);
  if (before && before.page === page) {
    // This page already recorded itself (this is its retry): only the hand-over may be left.
    if (!before.queued) await handOver(env, message, before);
    return;
  }
  // Not the page the chain expects next: a stale duplicate, whose work another delivery did.
  if (before ? before.next_page !== page || before.to_cursor !== message.cursor : page !== FIRST_PAGE) return;

  const keys = await profilePage(env.DB, message.workspaceId, message.cursor);
  const defs = await liveSegments(env.DB, message.workspaceId);
  const withThis = await definitionsOf(
    defs.some((d) => d.id === row.id && d.version === row.version) ? defs : [...defs.filter((d) => d.id !== row.id), { id: row.id, version: row.version, rule: ruleOf(row) }],
    await liveModels(env.DB, message.workspaceId),
  );
  const sites = await sitesOf(env.DB, message.workspaceId, keys);
  const out: PipelineMessage[] = [];
  for (let i = 0; i < keys.length; i += PARALLEL) {
    const slice = keys.slice(i, i + PARALLEL);
    const changes = await Promise.all(slice.map((key) => profileStub(env.PROFILES, key as ProfileKey).evaluate(withThis)));
    slice.forEach((key, j) => out.push(...membershipMessages(key, sites.get(key) ?? "", changes[j]!)));
  }
  await enqueue(env.EVENTS, out);

  // Record this page (compare-and-set on the page before it), and its progress in the same batch.
  const next = { page, to_cursor: keys.length === BACKFILL_PAGE ? keys.at(-1)! : null, next_page: crypto.randomUUID() };
  const record = before
    ? env.DB.prepare(
        "UPDATE backfill_progress SET page = ?, from_cursor = ?, to_cursor = ?, next_page = ?, queued = 0 WHERE segment_id = ? AND version = ? AND page = ?",
      ).bind(page, message.cursor, next.to_cursor, next.next_page, message.segmentId, message.version, before.page)
    : env.DB.prepare(
        "INSERT INTO backfill_progress (segment_id, version, page, from_cursor, to_cursor, next_page, queued) VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT DO NOTHING",
      ).bind(message.segmentId, message.version, page, message.cursor, next.to_cursor, next.next_page);
  const db = drizzle(env.DB);
  const done = db
    .update(segments)
    .set({ backfillDone: sql`min(${segments.backfillTotal}, ${segments.backfillDone} + ${keys.length})` })
    .where(and(eq(segments.id, row.id), eq(segments.version, row.version), sql`changes() = 1`));
  const { sql: text, params } = done.toSQL();
  const [recorded] = await env.DB.batch([record, env.DB.prepare(text).bind(...params)]);
  // Another delivery of this page recorded it first: the chain goes on from there, not from here.
  if (recorded!.meta.changes !== 1) return;
  await handOver(env, message, next);
}

/** Starts evaluating a (new version of a) segment over every profile: progress is on the segment. */
export async function startBackfill(env: Pick<Env, "DB" | "EVENTS">, row: SegmentRow): Promise<SegmentRow> {
  const total = await profileCount(env.DB, row.workspaceId);
  const [updated] = await drizzle(env.DB)
    .update(segments)
    .set({ backfillTotal: total, backfillDone: 0 })
    .where(and(eq(segments.id, row.id), eq(segments.version, row.version)))
    .returning();
  forgetSegments(row.workspaceId);
  await enqueue(env.EVENTS, [{ kind: "backfill", workspaceId: row.workspaceId, segmentId: row.id, version: row.version, cursor: null }]);
  return updated ?? row;
}
