/**
 * Predictions in D1: definitions, their training state and the model each produced. The live
 * models of a workspace (those with a model) are cached per isolate, like segment definitions,
 * so the collection path reads no D1 to score.
 */
import { and, asc, eq, isNull, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { ModelDef } from "../predictions/score";
import { TtlCache } from "./cache";
import { predictions } from "./schema";

export type PredictionRow = typeof predictions.$inferSelect;
export const MODEL_CACHE_MS = 30_000;

const cache = new TtlCache<string, ModelDef[]>(MODEL_CACHE_MS);

/** The model a row holds, as profiles receive it; undefined before the first training. */
export function modelOf(row: PredictionRow): ModelDef | undefined {
  if (!row.model || row.version === 0) return undefined;
  return { ...(row.model as unknown as Omit<ModelDef, "id" | "version">), id: row.id, version: row.version };
}

/** The models profiles of a workspace score with. */
export async function liveModels(db: D1Database, workspaceId: string): Promise<ModelDef[]> {
  return cache.getOrLoad(workspaceId, async () => (await listPredictionRows(db, workspaceId)).flatMap((row) => modelOf(row) ?? []));
}

export function forgetModels(workspaceId: string): void {
  cache.delete(workspaceId);
}

export async function getPrediction(db: D1Database, workspaceId: string, id: string): Promise<PredictionRow | undefined> {
  const [row] = await drizzle(db)
    .select()
    .from(predictions)
    .where(and(eq(predictions.id, id), eq(predictions.workspaceId, workspaceId), isNull(predictions.deletedAt)))
    .limit(1);
  return row;
}

/** A prediction by id alone (the training job carries the workspace in its message too). */
export async function predictionById(db: D1Database, id: string): Promise<PredictionRow | undefined> {
  const [row] = await drizzle(db).select().from(predictions).where(and(eq(predictions.id, id), isNull(predictions.deletedAt))).limit(1);
  return row;
}

export async function listPredictionRows(db: D1Database, workspaceId?: string): Promise<PredictionRow[]> {
  return drizzle(db)
    .select()
    .from(predictions)
    .where(and(workspaceId === undefined ? undefined : eq(predictions.workspaceId, workspaceId), isNull(predictions.deletedAt)))
    .orderBy(asc(predictions.createdAt));
}

export async function insertPrediction(db: D1Database, row: typeof predictions.$inferInsert): Promise<PredictionRow> {
  const [inserted] = await drizzle(db).insert(predictions).values(row).returning();
  return inserted!;
}

/** Column values to set; a column may also be set from SQL (`version + 1`). */
export type PredictionChanges = { [K in keyof typeof predictions.$inferInsert]?: (typeof predictions.$inferInsert)[K] | SQL };

export async function updatePrediction(db: D1Database, id: string, changes: PredictionChanges): Promise<void> {
  await drizzle(db).update(predictions).set(changes).where(eq(predictions.id, id));
}
