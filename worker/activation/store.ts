/**
 * Destinations and deliveries in D1: create, change, rotate secrets, stats, the failed list and replay.
 */
import { and, desc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Purpose } from "../consent/purposes";
import { deliveries, destinations } from "../store/schema";
import { kindOf, type DestinationType } from "./kinds";
import { enqueueDeliveries } from "./messages";
import { seal, unseal } from "./secrets";
import { newSecret } from "./signing";
import { newId } from "../ids";

export type DestinationRow = typeof destinations.$inferSelect;
export type DeliveryRow = typeof deliveries.$inferSelect;

/** How long the previous secret keeps signing after a rotation. */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;

export interface StoredSecret {
  secret: string;
  /** When a rotated-out secret stops signing (ms). */
  expiresAt?: number;
}

export interface NewDestination {
  name: string;
  type: DestinationType;
  config: Record<string, unknown>;
  events?: { types?: string[]; names?: string[] } | null;
  purposes?: Purpose[];
  segments?: string[];
  enabled?: boolean;
}

const randomId = () => newId("dst");

export async function createDestination(env: Pick<Env, "DB" | "DATA_SECRET">, workspaceId: string, input: NewDestination): Promise<{ row: DestinationRow; secret: string }> {
  const secret = newSecret();
  const kind = kindOf(input.type)!;
  const [row] = await drizzle(env.DB)
    .insert(destinations)
    .values({
      id: randomId(),
      workspaceId,
      name: input.name,
      type: input.type,
      config: input.config,
      events: input.events ?? null,
      purposes: input.purposes ?? kind.defaultPurposes,
      segments: input.segments ?? [],
      enabled: input.enabled ?? true,
      secrets: await seal(env.DATA_SECRET, JSON.stringify([{ secret }] satisfies StoredSecret[])),
    })
    .returning();
  return { row: row!, secret };
}

export async function getDestination(db: D1Database, workspaceId: string, id: string): Promise<DestinationRow | undefined> {
  const [row] = await drizzle(db)
    .select()
    .from(destinations)
    .where(and(eq(destinations.id, id), eq(destinations.workspaceId, workspaceId), isNull(destinations.deletedAt)))
    .limit(1);
  return row;
}

export async function destinationById(db: D1Database, id: string): Promise<DestinationRow | undefined> {
  const [row] = await drizzle(db).select().from(destinations).where(eq(destinations.id, id)).limit(1);
  return row;
}

export function listDestinations(db: D1Database, workspaceId: string): Promise<DestinationRow[]> {
  return drizzle(db).select().from(destinations).where(and(eq(destinations.workspaceId, workspaceId), isNull(destinations.deletedAt))).orderBy(destinations.createdAt);
}

/** Live destinations of these workspaces that send (enabled, not deleted). */
export async function activeDestinations(db: D1Database, workspaceIds: string[]): Promise<DestinationRow[]> {
  const out: DestinationRow[] = [];
  for (let i = 0; i < workspaceIds.length; i += 90) {
    out.push(
      ...(await drizzle(db)
        .select()
        .from(destinations)
        .where(and(inArray(destinations.workspaceId, workspaceIds.slice(i, i + 90)), isNull(destinations.deletedAt), eq(destinations.enabled, true)))),
    );
  }
  return out;
}

export type DestinationChanges = Partial<Omit<NewDestination, "type">>;

export async function updateDestination(db: D1Database, row: DestinationRow, changes: DestinationChanges): Promise<DestinationRow> {
  const [updated] = await drizzle(db)
    .update(destinations)
    .set({
      ...changes,
      // Turning a destination on again clears why it was paused, and its failure streak.
      ...(changes.enabled === true ? { pausedReason: null, failureStreak: 0, failingSince: null } : {}),
      ...(changes.enabled === false ? { pausedReason: null } : {}),
      updatedAt: new Date(),
    })
    .where(eq(destinations.id, row.id))
    .returning();
  return updated!;
}

export async function deleteDestination(db: D1Database, row: DestinationRow): Promise<void> {
  await drizzle(db).update(destinations).set({ deletedAt: new Date(), enabled: false }).where(eq(destinations.id, row.id));
}

/** The secrets that sign now: the current one, and a rotated-out one until it expires. */
export async function signingSecrets(env: Pick<Env, "DATA_SECRET">, row: DestinationRow, now: number): Promise<string[]> {
  const stored = JSON.parse(await unseal(env.DATA_SECRET, row.secrets)) as StoredSecret[];
  return stored.filter((s) => s.expiresAt === undefined || s.expiresAt > now).map((s) => s.secret);
}

/** A new current secret; the previous one keeps signing for `ROTATION_OVERLAP_MS` (or `overlapMs`). */
export async function rotateSecret(env: Pick<Env, "DB" | "DATA_SECRET">, row: DestinationRow, now: number, overlapMs = ROTATION_OVERLAP_MS): Promise<{ secret: string; previousExpiresAt: number }> {
  const [current] = await signingSecrets(env, row, now);
  const secret = newSecret();
  const previousExpiresAt = now + overlapMs;
  const stored: StoredSecret[] = [{ secret }, ...(current && overlapMs > 0 ? [{ secret: current, expiresAt: previousExpiresAt }] : [])];
  await drizzle(env.DB).update(destinations).set({ secrets: await seal(env.DATA_SECRET, JSON.stringify(stored)), updatedAt: new Date(now) }).where(eq(destinations.id, row.id));
  return { secret, previousExpiresAt };
}

export interface DestinationStats {
  delivered: number;
  failed: number;
  retrying: number;
  pending: number;
  filtered: number;
}

export async function destinationStats(db: D1Database, row: DestinationRow): Promise<DestinationStats> {
  const rows = await drizzle(db)
    .select({ status: deliveries.status, n: sql<number>`count(*)` })
    .from(deliveries)
    .where(eq(deliveries.destinationId, row.id))
    .groupBy(deliveries.status);
  const by = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  return {
    delivered: by.delivered ?? 0,
    failed: by.failed ?? 0,
    retrying: (by.retrying ?? 0) + (by.sending ?? 0),
    pending: by.pending ?? 0,
    filtered: row.filtered + (by.filtered ?? 0),
  };
}

/** A destination as the API shows it: credentials in its config are left out. */
export function publicDestination(row: DestinationRow) {
  const kind = kindOf(row.type);
  const config = Object.fromEntries(Object.entries(row.config).filter(([name]) => !kind?.secretFields.includes(name)));
  return {
    id: row.id,
    name: row.name,
    type: row.type as DestinationType,
    config,
    events: row.events ?? null,
    purposes: row.purposes,
    segments: row.segments,
    enabled: row.enabled,
    paused: !row.enabled && row.pausedReason !== null,
    pausedReason: row.pausedReason,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export const DELIVERY_STATUSES = ["pending", "sending", "retrying", "delivered", "failed", "filtered"] as const;

export async function listDeliveries(db: D1Database, row: DestinationRow, options: { status?: string; limit: number; before?: string }): Promise<DeliveryRow[]> {
  return drizzle(db)
    .select()
    .from(deliveries)
    .where(
      and(
        eq(deliveries.destinationId, row.id),
        options.status ? eq(deliveries.status, options.status) : undefined,
        options.before ? lt(deliveries.createdAt, new Date(Number(options.before))) : undefined,
      ),
    )
    .orderBy(desc(deliveries.createdAt), desc(deliveries.id))
    .limit(options.limit);
}

export function publicDelivery(row: DeliveryRow) {
  return {
    id: row.id,
    kind: row.kind,
    messageId: row.messageId,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === "retrying" || row.status === "pending" ? row.nextAttemptAt.toISOString() : null,
    lastAttemptAt: row.lastAttemptAt?.toISOString() ?? null,
    deliveredAt: row.deliveredAt?.toISOString() ?? null,
    responseStatus: row.responseStatus,
    responseBody: row.responseBody,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * Sends failed deliveries again (those named, or every failed one of the destination, at most
 * `limit`): each starts over with a fresh schedule and keeps its `webhook-id`.
 */
export async function replayDeliveries(env: Pick<Env, "DB" | "DELIVERIES">, row: DestinationRow, ids: string[] | undefined, now: number, limit = 1000): Promise<number> {
  const db = drizzle(env.DB);
  const failed = await db
    .select({ id: deliveries.id })
    .from(deliveries)
    .where(and(eq(deliveries.destinationId, row.id), eq(deliveries.status, "failed"), ids ? inArray(deliveries.id, ids.slice(0, 90)) : undefined))
    .limit(limit);
  const chosen = failed.map((d) => d.id).filter((id) => id);
  for (let i = 0; i < chosen.length; i += 90) {
    await db
      .update(deliveries)
      .set({ status: "pending", attempts: 0, nextAttemptAt: new Date(now), error: null, leaseUntil: null })
      .where(and(inArray(deliveries.id, chosen.slice(i, i + 90)), eq(deliveries.status, "failed")));
  }
  await enqueueDeliveries(env.DELIVERIES, chosen.map((id) => ({ kind: "delivery" as const, id })));
  return chosen.length;
}
