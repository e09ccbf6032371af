/**
 * Segment backfill, one page of profiles per queue message: each profile's Durable Object
 * re-evaluates the workspace's segments, its entries and exits go to the memberships index, the
 * segment's progress moves, and the next page is queued. A page retried after a failure is safe:
 * a profile already evaluated reports no change the second time.
 */
import { and, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { profileStub, type ProfileKey } from "../identity/keys";
import { BACKFILL_PAGE, getSegment, liveSegments, profilePage, ruleOf } from "../store/segments";
import { segments } from "../store/schema";
import { enqueue, membershipMessages, type PipelineMessage } from "./messages";

const PARALLEL = 10;

export async function backfillPage(env: Pick<Env, "DB" | "PROFILES" | "EVENTS">, message: Extract<PipelineMessage, { kind: "backfill" }>): Promise<void> {
  const row = await getSegment(env.DB, message.workspaceId, message.segmentId);
  // Deleted, or changed again since: the newer version's backfill does the work.
  if (!row || row.version !== message.version) return;
  const keys = await profilePage(env.DB, message.workspaceId, message.cursor);
  const defs = await liveSegments(env.DB, message.workspaceId);
  const withThis = defs.some((d) => d.id === row.id && d.version === row.version) ? defs : [...defs.filter((d) => d.id !== row.id), { id: row.id, version: row.version, rule: ruleOf(row) }];
  const out: PipelineMessage[] = [];
  for (let i = 0; i < keys.length; i += PARALLEL) {
    const slice = keys.slice(i, i + PARALLEL);
    const changes = await Promise.all(slice.map((key) => profileStub(env.PROFILES, key as ProfileKey).evaluate(withThis)));
    slice.forEach((key, j) => out.push(...membershipMessages(key, "", changes[j]!)));
  }
  if (keys.length > 0 && keys.length === BACKFILL_PAGE) {
    out.push({ ...message, cursor: keys.at(-1)! });
  }
  await enqueue(env.EVENTS, out);
  await drizzle(env.DB)
    .update(segments)
    .set({ backfillDone: sql`min(${segments.backfillTotal}, ${segments.backfillDone} + ${keys.length})` })
    .where(and(eq(segments.id, row.id), eq(segments.version, row.version)));
}
