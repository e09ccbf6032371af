/**
 * Experiences in D1, and the live ones of a workspace cached per isolate (30 s), so a decision
 * reads no D1; so are all of them (not deleted), whose goals the report rollups match.
 */
import { and, asc, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { parseExperience, type StoredExperience } from "../decisions/schema";
import { experiences } from "./schema";
import { TtlCache } from "./cache";

export type ExperienceRow = typeof experiences.$inferSelect;
export const EXPERIENCE_CACHE_MS = 30_000;

/** Every experience of a workspace that is not deleted, live or not (goals are matched for all of them). */
const cache = new TtlCache<string, StoredExperience[]>(EXPERIENCE_CACHE_MS);
/** The live ones of each loaded list (the same array until the list reloads). */
const liveOf = new WeakMap<StoredExperience[], StoredExperience[]>();

export function experienceOf(row: ExperienceRow): StoredExperience {
  const parsed = parseExperience(row.body);
  if (!parsed.ok) throw new Error(`stored experience ${row.id} is invalid: ${parsed.error.path}: ${parsed.error.message}`);
  return { ...parsed.experience, id: row.id };
}

export async function listExperienceRows(db: D1Database, workspaceId: string): Promise<ExperienceRow[]> {
  return drizzle(db)
    .select()
    .from(experiences)
    .where(and(eq(experiences.workspaceId, workspaceId), isNull(experiences.deletedAt)))
    .orderBy(asc(experiences.createdAt));
}

export async function getExperience(db: D1Database, workspaceId: string, id: string): Promise<ExperienceRow | undefined> {
  const [row] = await drizzle(db)
    .select()
    .from(experiences)
    .where(and(eq(experiences.id, id), eq(experiences.workspaceId, workspaceId), isNull(experiences.deletedAt)))
    .limit(1);
  return row;
}

/** The workspace's experiences that may be decided (status live), cached. */
export async function liveExperiences(db: D1Database, workspaceId: string): Promise<StoredExperience[]> {
  const all = await currentExperiences(db, workspaceId);
  let live = liveOf.get(all);
  if (!live) liveOf.set(all, (live = all.filter((e) => e.status === "live")));
  return live;
}

/** The workspace's experiences that are not deleted, whatever their status, cached (the same array until it reloads). */
export async function currentExperiences(db: D1Database, workspaceId: string): Promise<StoredExperience[]> {
  return cache.getOrLoad(workspaceId, async () => (await listExperienceRows(db, workspaceId)).map(experienceOf));
}

export function forgetExperiences(workspaceId: string): void {
  cache.delete(workspaceId);
}
