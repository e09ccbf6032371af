/**
 * Segments in D1: their definitions (versioned), sizes from the memberships index, and the
 * profile index a backfill pages through (the backfill itself is `pipeline/backfill.ts`).
 * The live definitions of a workspace are cached per isolate, so the collection path reads no D1.
 */
import { and, asc, count, eq, gt, isNull, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Experience } from "../decisions/schema";
import { parseRule, referencedSegments, type Rule } from "../segments";
import type { SegmentDef } from "../segments/membership";
import { experienceOf, listExperienceRows } from "./experiences";
import { memberships, profiles, segments } from "./schema";
import { TtlCache } from "./cache";

export type SegmentRow = typeof segments.$inferSelect;
export const SEGMENT_CACHE_MS = 30_000;
/** Profiles per backfill message. */
export const BACKFILL_PAGE = 50;

const cache = new TtlCache<string, SegmentDef[]>(SEGMENT_CACHE_MS);

/** The rule of a stored segment (stored validated, as `{version, rule}`). */
export const ruleOf = (row: Pick<SegmentRow, "rule">): Rule => {
  const parsed = parseRule(row.rule);
  if (!parsed.ok) throw new Error(`stored segment rule is invalid: ${parsed.error.path}: ${parsed.error.message}`);
  return parsed.rule;
};

export const defOf = (row: SegmentRow): SegmentDef => ({ id: row.id, version: row.version, rule: ruleOf(row) });

export async function liveSegments(db: D1Database, workspaceId: string): Promise<SegmentDef[]> {
  return cache.getOrLoad(workspaceId, async () => {
    const rows = await drizzle(db).select().from(segments).where(and(eq(segments.workspaceId, workspaceId), isNull(segments.deletedAt)));
    return rows.map(defOf);
  });
}

export function forgetSegments(workspaceId: string): void {
  cache.delete(workspaceId);
}

export async function getSegment(db: D1Database, workspaceId: string, id: string): Promise<SegmentRow | undefined> {
  const [row] = await drizzle(db)
    .select()
    .from(segments)
    .where(and(eq(segments.id, id), eq(segments.workspaceId, workspaceId), isNull(segments.deletedAt)))
    .limit(1);
  return row;
}

export async function listSegmentRows(db: D1Database, workspaceId: string): Promise<SegmentRow[]> {
  return drizzle(db).select().from(segments).where(and(eq(segments.workspaceId, workspaceId), isNull(segments.deletedAt))).orderBy(asc(segments.createdAt));
}

export async function segmentSize(db: D1Database, segmentId: string): Promise<number> {
  const [row] = await drizzle(db).select({ n: count() }).from(memberships).where(and(eq(memberships.segmentId, segmentId), eq(memberships.member, true)));
  return row?.n ?? 0;
}

export async function segmentMembers(db: D1Database, segmentId: string, after: string | undefined, limit: number) {
  return drizzle(db)
    .select({ profileKey: memberships.profileKey, since: memberships.changedAt })
    .from(memberships)
    .where(and(eq(memberships.segmentId, segmentId), eq(memberships.member, true), after ? gt(memberships.profileKey, after) : undefined))
    .orderBy(asc(memberships.profileKey))
    .limit(limit);
}

export async function profileCount(db: D1Database, workspaceId: string): Promise<number> {
  const [row] = await drizzle(db).select({ n: count() }).from(profiles).where(eq(profiles.workspaceId, workspaceId));
  return row?.n ?? 0;
}

/** A random sample of the workspace's profile keys (for a segment preview). */
export async function sampleProfiles(db: D1Database, workspaceId: string, size: number): Promise<string[]> {
  const rows = await drizzle(db).select({ key: profiles.profileKey }).from(profiles).where(eq(profiles.workspaceId, workspaceId)).orderBy(sql`random()`).limit(size);
  return rows.map((r) => r.key);
}

/** The next page of profile keys after `cursor`. */
export async function profilePage(db: D1Database, workspaceId: string, cursor: string | null): Promise<string[]> {
  const rows = await drizzle(db)
    .select({ key: profiles.profileKey })
    .from(profiles)
    .where(and(eq(profiles.workspaceId, workspaceId), cursor ? gt(profiles.profileKey, cursor) : undefined))
    .orderBy(asc(profiles.profileKey))
    .limit(BACKFILL_PAGE);
  return rows.map((r) => r.key);
}


/** Who names a segment: the workspace's live segments (in their rules) and experiences (in their audience). */
export interface SegmentReferences {
  segments: string[];
  experiences: string[];
}

/** The live segments and experiences of a workspace that refer to segment `id`. */
export async function referencesTo(db: D1Database, workspaceId: string, id: string): Promise<SegmentReferences> {
  const [segmentRows, experienceRows] = await Promise.all([listSegmentRows(db, workspaceId), listExperienceRows(db, workspaceId)]);
  return {
    segments: segmentRows.filter((row) => row.id !== id && referencedSegments(ruleOf(row)).includes(id)).map((row) => row.id),
    experiences: experienceRows.filter((row) => audienceSegments(experienceOf(row)).includes(id)).map((row) => row.id),
  };
}

/** The segments an experience's audience names, directly or inside its inline rule. */
export function audienceSegments(experience: Pick<Experience, "audience">): string[] {
  const audience = experience.audience;
  if (!audience) return [];
  if ("segment" in audience) return [audience.segment];
  if ("rule" in audience) return referencedSegments(audience.rule);
  return [];
}
