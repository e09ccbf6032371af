/**
 * The segments admin API (DESIGN.md §3): create, read (with size and backfill progress), update
 * (a new version, backfilled), delete, list, members, explain, and a preview that estimates a
 * rule's size on a sample of profiles before it is saved.
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { z } from "zod";
import { requireRole } from "../admin/auth";
import type { AppContext, AppEnv } from "../env";
import { profileKey, type ProfileKey } from "../identity/keys";
import { currentKey } from "../profile/profiles";
import { profileStub } from "../identity/keys";
import { findCycle, parseRule, referencedSegments, RULE_VERSION, type Explanation, type Rule } from "../segments";
import { memberships, segments } from "../store/schema";
import {
  forgetSegments,
  getSegment,
  listSegmentRows,
  profileCount,
  ruleOf,
  sampleProfiles,
  segmentMembers,
  segmentSize,
  startBackfill,
  type SegmentRow,
} from "../store/segments";
import { jsonBody, queryOf } from "./body";
import { ApiError } from "./errors";

export const segmentRoutes = new Hono<AppEnv>();

export const segmentInput = z.object({
  name: z.string().trim().min(1).max(120),
  description: z.string().max(2000).nullish(),
  rule: z.unknown(),
});

function randomId(): string {
  return `seg_${[...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** Validates a rule, and that the segments it names exist and form no cycle. */
async function checkRule(c: AppContext, raw: unknown, selfId?: string): Promise<Rule> {
  const parsed = parseRule(raw);
  if (!parsed.ok) throw new ApiError(400, "invalid_rule", `${parsed.error.path}: ${parsed.error.message}`, { path: parsed.error.path });
  const rows = await listSegmentRows(c.env.DB, c.get("admin").ws);
  const known = new Map(rows.map((r) => [r.id, ruleOf(r)]));
  for (const ref of referencedSegments(parsed.rule)) {
    if (!known.has(ref) && ref !== selfId) throw new ApiError(400, "invalid_rule", `rule: segment ${ref} does not exist in this workspace`, { path: "rule" });
  }
  known.set(selfId ?? "(new)", parsed.rule);
  const cycle = findCycle(known);
  if (cycle) throw new ApiError(400, "invalid_rule", `rule: segments would reference each other in a cycle: ${cycle.join(" → ")}`, { path: "rule" });
  return parsed.rule;
}

async function present(c: AppContext, row: SegmentRow) {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    rule: ruleOf(row),
    version: row.version,
    size: await segmentSize(c.env.DB, row.id),
    backfill: { done: row.backfillDone, total: row.backfillTotal },
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

async function found(c: AppContext): Promise<SegmentRow> {
  const row = await getSegment(c.env.DB, c.get("admin").ws, c.req.param("id")!);
  if (!row) throw new ApiError(404, "not_found", `No segment ${c.req.param("id")} in this workspace.`);
  return row;
}

segmentRoutes.post("/", requireRole("editor"), async (c) => {
  const input = await jsonBody(c.req.raw, segmentInput);
  const rule = await checkRule(c, input.rule);
  const [row] = await drizzle(c.env.DB)
    .insert(segments)
    .values({ id: randomId(), workspaceId: c.get("admin").ws, name: input.name, description: input.description ?? null, rule: { version: RULE_VERSION, rule } })
    .returning();
  return c.json(await present(c, await startBackfill(c.env, row!)), 201);
});

segmentRoutes.get("/", requireRole("viewer"), async (c) => {
  const rows = await listSegmentRows(c.env.DB, c.get("admin").ws);
  return c.json({ segments: await Promise.all(rows.map((row) => present(c, row))) });
});

export const previewInput = z.object({ rule: z.unknown(), sample: z.number().int().min(1).max(500).default(200) });

/** Estimates a rule's size before saving it: the share of a random sample that matches, scaled. */
segmentRoutes.post("/preview", requireRole("viewer"), async (c) => {
  const input = await jsonBody(c.req.raw, previewInput);
  const rule = await checkRule(c, input.rule);
  const ws = c.get("admin").ws;
  const [keys, total] = await Promise.all([sampleProfiles(c.env.DB, ws, input.sample), profileCount(c.env.DB, ws)]);
  let matched = 0;
  for (let i = 0; i < keys.length; i += 20) {
    const results = await Promise.all(keys.slice(i, i + 20).map((key) => profileStub(c.env.PROFILES, key as ProfileKey).matchesRule(rule)));
    matched += results.filter(Boolean).length;
  }
  return c.json({ sampled: keys.length, matched, profiles: total, estimatedSize: keys.length ? Math.round((matched / keys.length) * total) : 0 });
});

segmentRoutes.get("/:id", requireRole("viewer"), async (c) => c.json(await present(c, await found(c))));

segmentRoutes.put("/:id", requireRole("editor"), async (c) => {
  const row = await found(c);
  const input = await jsonBody(c.req.raw, segmentInput.partial());
  const rule = input.rule === undefined ? undefined : await checkRule(c, input.rule, row.id);
  const [updated] = await drizzle(c.env.DB)
    .update(segments)
    .set({
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(rule ? { rule: { version: RULE_VERSION, rule }, version: row.version + 1 } : {}),
      updatedAt: new Date(),
    })
    .where(eq(segments.id, row.id))
    .returning();
  forgetSegments(row.workspaceId);
  return c.json(await present(c, rule ? await startBackfill(c.env, updated!) : updated!));
});

segmentRoutes.delete("/:id", requireRole("editor"), async (c) => {
  const row = await found(c);
  const db = drizzle(c.env.DB);
  await db.batch([
    db.update(segments).set({ deletedAt: new Date() }).where(eq(segments.id, row.id)),
    db.delete(memberships).where(eq(memberships.segmentId, row.id)),
  ]);
  forgetSegments(row.workspaceId);
  return c.body(null, 204);
});

export const membersQuery = z.object({ after: z.string().max(600).optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) });

/** The members, in pages (`after` = the last profileKey of the previous page). */
segmentRoutes.get("/:id/members", requireRole("viewer"), async (c) => {
  const row = await found(c);
  const query = queryOf(c.req.query(), membersQuery);
  const members = await segmentMembers(c.env.DB, row.id, query.after, query.limit);
  return c.json({
    members: members.map((m) => ({ profileKey: m.profileKey, since: m.since.toISOString() })),
    next: members.length === query.limit ? members.at(-1)!.profileKey : null,
  });
});

export const subjectQuery = z
  .object({ userId: z.string().min(1).max(255).optional(), anonymousId: z.string().min(1).max(255).optional() })
  .refine((q) => Boolean(q.userId) !== Boolean(q.anonymousId), { message: "pass exactly one of userId or anonymousId", path: ["userId"] });

/** Which clauses held for one profile now, with the values seen. */
segmentRoutes.get("/:id/explain", requireRole("viewer"), async (c) => {
  const row = await found(c);
  const query = queryOf(c.req.query(), subjectQuery);
  const key = await currentKey(c.env.PROFILES, profileKey(row.workspaceId, query)!);
  // The explanation holds the values seen (unknown JSON), which RPC typing cannot name.
  const explanation = (await profileStub(c.env.PROFILES, key).explainRule(ruleOf(row))) as unknown as Explanation | null;
  if (!explanation) throw new ApiError(404, "not_found", `No profile ${key}.`);
  return c.json({ segment: row.id, profileKey: key, member: explanation.result, explanation });
});

