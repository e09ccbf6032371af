/**
 * The segments admin API (DESIGN.md §3): create, read (with size and backfill progress), update
 * (a new version, backfilled), delete, list, members, explain, and a preview that estimates a
 * rule's size on a sample of profiles before it is saved. Routes are declared with their schemas
 * (worker/http/openapi.ts); a rule is checked by the rule language's own parser, whose errors name
 * the clause at fault (`invalid_rule`, `rule.all.2.count.op`).
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { AppContext } from "../env";
import { profileKey, profileStub, type ProfileKey } from "../identity/keys";
import { currentKey } from "../profile/profiles";
import { findCycle, parseRule, referencedPredictions, referencedSegments, RULE_VERSION, type Explanation, type Rule } from "../segments";
import { listPredictionRows } from "../store/predictions";
import { memberships, segments } from "../store/schema";
import {
  forgetSegments,
  getSegment,
  listSegmentRows,
  profileCount,
  referencesTo,
  ruleOf,
  sampleProfiles,
  segmentMembers,
  segmentSize,
  type SegmentRow,
} from "../store/segments";
import { Rule as RuleSchema } from "../segments/schema";
import { ApiError } from "./errors";
import { adminRoute, adminRouter, ErrorEnvelope, IdParams, jsonBody, jsonResponse, RuleInput, z } from "./openapi";
import { newId } from "../ids";
import { startBackfill } from "../pipeline/backfill";

export const segmentRoutes = adminRouter();
segmentRoutes.openAPIRegistry.register("Rule", RuleSchema);
const tags = ["Segments"];

export const segmentInput = z
  .object({
    name: z.string().trim().min(1).max(120).openapi({ example: "Shoe fans" }),
    description: z.string().max(2000).nullish(),
    rule: RuleInput,
  })
  .openapi("NewSegment");
const segmentChanges = segmentInput.partial().openapi("SegmentChanges");

export const SegmentView = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    rule: RuleSchema,
    version: z.number().int().openapi({ description: "Bumped by every change of the rule." }),
    size: z.number().int().openapi({ description: "Members now, from the memberships index." }),
    backfill: z.object({ done: z.number().int(), total: z.number().int() }).openapi({ description: "Profiles evaluated against this version so far, of all." }),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Segment");

function randomId(): string {
  return newId("seg");
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
  const predictions = referencedPredictions(parsed.rule);
  if (predictions.length > 0) {
    const live = new Set((await listPredictionRows(c.env.DB, c.get("admin").ws)).map((p) => p.id));
    const missing = predictions.find((id) => !live.has(id));
    if (missing) throw new ApiError(400, "invalid_rule", `rule: prediction ${missing} does not exist in this workspace`, { path: "rule" });
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
  } satisfies z.input<typeof SegmentView>;
}

async function found(c: AppContext, id: string): Promise<SegmentRow> {
  const row = await getSegment(c.env.DB, c.get("admin").ws, id);
  if (!row) throw new ApiError(404, "not_found", `No segment ${id} in this workspace.`);
  return row;
}

segmentRoutes.openapi(
  adminRoute({
    method: "post",
    path: "/",
    role: "editor",
    tags,
    summary: "Create a segment",
    description: "Evaluated over every existing profile through the queue (`backfill` shows the progress).",
    request: { body: jsonBody(segmentInput) },
    responses: { 201: jsonResponse(SegmentView, "The segment") },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const rule = await checkRule(c, input.rule);
    const [row] = await drizzle(c.env.DB)
      .insert(segments)
      .values({ id: randomId(), workspaceId: c.get("admin").ws, name: input.name, description: input.description ?? null, rule: { version: RULE_VERSION, rule } })
      .returning();
    return c.json(await present(c, await startBackfill(c.env, row!)), 201);
  },
);

segmentRoutes.openapi(
  adminRoute({ method: "get", path: "/", role: "viewer", tags, summary: "List segments, with sizes", responses: { 200: jsonResponse(z.object({ segments: z.array(SegmentView) }), "Oldest first") } }),
  async (c) => {
    const rows = await listSegmentRows(c.env.DB, c.get("admin").ws);
    return c.json({ segments: await Promise.all(rows.map((row) => present(c, row))) }, 200);
  },
);

export const previewInput = z.object({ rule: RuleInput, sample: z.number().int().min(1).max(500).default(200) }).openapi("SegmentPreviewRequest");
const Preview = z
  .object({ sampled: z.number().int(), matched: z.number().int(), profiles: z.number().int(), estimatedSize: z.number().int() })
  .openapi("SegmentPreview");

/** Estimates a rule's size before saving it: the share of a random sample that matches, scaled. */
segmentRoutes.openapi(
  adminRoute({
    method: "post",
    path: "/preview",
    role: "viewer",
    tags,
    summary: "Estimate a rule's size on a sample",
    description: "The share of a random sample of profiles (at most 500) that matches, scaled to all profiles; nothing is saved.",
    request: { body: jsonBody(previewInput) },
    responses: { 200: jsonResponse(Preview, "The estimate") },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const rule = await checkRule(c, input.rule);
    const ws = c.get("admin").ws;
    const [keys, total] = await Promise.all([sampleProfiles(c.env.DB, ws, input.sample), profileCount(c.env.DB, ws)]);
    let matched = 0;
    for (let i = 0; i < keys.length; i += 20) {
      const results = await Promise.all(keys.slice(i, i + 20).map((key) => profileStub(c.env.PROFILES, key as ProfileKey).matchesRule(rule)));
      matched += results.filter(Boolean).length;
    }
    const preview = { sampled: keys.length, matched, profiles: total, estimatedSize: keys.length ? Math.round((matched / keys.length) * total) : 0 };
    return c.json(preview satisfies z.input<typeof Preview>, 200);
  },
);

segmentRoutes.openapi(
  adminRoute({
    method: "get",
    path: "/{id}",
    role: "viewer",
    tags,
    summary: "A segment, with its size and backfill progress",
    request: { params: IdParams },
    responses: { 200: jsonResponse(SegmentView, "The segment") },
  }),
  async (c) => c.json(await present(c, await found(c, c.req.valid("param").id)), 200),
);

segmentRoutes.openapi(
  adminRoute({
    method: "put",
    path: "/{id}",
    role: "editor",
    tags,
    summary: "Change a segment",
    description: "A new rule is a new `version`, backfilled again; the fields left out are kept.",
    request: { params: IdParams, body: jsonBody(segmentChanges) },
    responses: { 200: jsonResponse(SegmentView, "The segment as changed") },
  }),
  async (c) => {
    const row = await found(c, c.req.valid("param").id);
    const input = c.req.valid("json");
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
    return c.json(await present(c, rule ? await startBackfill(c.env, updated!) : updated!), 200);
  },
);

const InUse = ErrorEnvelope.extend({
  referencedBy: z.object({ segments: z.array(z.string()), experiences: z.array(z.string()) }).openapi({ description: "The ids that name this segment." }),
}).openapi("SegmentInUse");

segmentRoutes.openapi(
  adminRoute({
    method: "delete",
    path: "/{id}",
    role: "editor",
    tags,
    summary: "Delete a segment",
    description: "Refused (409) while other segments or experiences name it: change or delete those first.",
    request: { params: IdParams },
    responses: { 204: { description: "Deleted, with its memberships index" }, 409: jsonResponse(InUse, "Other segments or experiences name this one (`segment_in_use`)") },
  }),
  async (c) => {
    const row = await found(c, c.req.valid("param").id);
    const referencedBy = await referencesTo(c.env.DB, row.workspaceId, row.id);
    const names = [...referencedBy.segments, ...referencedBy.experiences];
    if (names.length > 0) {
      throw new ApiError(409, "segment_in_use", `Segment ${row.id} is named by ${names.join(", ")}: change or delete those first.`, { extra: { referencedBy } });
    }
    const db = drizzle(c.env.DB);
    await db.batch([
      db.update(segments).set({ deletedAt: new Date() }).where(eq(segments.id, row.id)),
      db.delete(memberships).where(eq(memberships.segmentId, row.id)),
    ]);
    forgetSegments(row.workspaceId);
    return c.body(null, 204);
  },
);

export const membersQuery = z.object({
  after: z.string().max(600).optional().openapi({ description: "The last `profileKey` of the previous page." }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});
const Members = z.object({
  members: z.array(z.object({ profileKey: z.string(), since: z.string().openapi({ format: "date-time" }) })),
  next: z.string().nullable().openapi({ description: "Pass as `after` for the next page; null on the last." }),
});

/** The members, in pages (`after` = the last profileKey of the previous page). */
segmentRoutes.openapi(
  adminRoute({
    method: "get",
    path: "/{id}/members",
    role: "viewer",
    tags,
    summary: "Members, paged",
    request: { params: IdParams, query: membersQuery },
    responses: { 200: jsonResponse(Members, "A page of members, by profile key") },
  }),
  async (c) => {
    const row = await found(c, c.req.valid("param").id);
    const query = c.req.valid("query");
    const members = await segmentMembers(c.env.DB, row.id, query.after, query.limit);
    const page = {
      members: members.map((m) => ({ profileKey: m.profileKey, since: m.since.toISOString() })),
      next: members.length === query.limit ? members.at(-1)!.profileKey : null,
    };
    return c.json(page satisfies z.input<typeof Members>, 200);
  },
);

export const subjectQuery = z
  .object({ userId: z.string().min(1).max(255).optional(), anonymousId: z.string().min(1).max(255).optional() })
  .refine((q) => Boolean(q.userId) !== Boolean(q.anonymousId), { message: "pass exactly one of userId or anonymousId", path: ["userId"] });

const ExplanationSchema: z.ZodType<Explanation> = z
  .lazy(() =>
    z.object({
      path: z.string().openapi({ example: "rule.all.1" }),
      kind: z.enum(["all", "any", "not", "trait", "context", "event", "metric", "firstSeen", "lastSeen", "consent", "segment"]),
      result: z.boolean(),
      seen: z.unknown().optional().openapi({ description: "What the clause compared: a value, a count, a time (ms)." }),
      summary: z.string(),
      children: z.array(ExplanationSchema).optional(),
    }),
  )
  .openapi("Explanation");
const Explained = z.object({ segment: z.string(), profileKey: z.string(), member: z.boolean(), explanation: ExplanationSchema });

/** Which clauses held for one profile now, with the values seen. */
segmentRoutes.openapi(
  adminRoute({
    method: "get",
    path: "/{id}/explain",
    role: "viewer",
    tags,
    summary: "Which clauses held for a profile",
    request: { params: IdParams, query: subjectQuery },
    responses: { 200: jsonResponse(Explained, "Each clause with its result and the value seen") },
  }),
  async (c) => {
    const row = await found(c, c.req.valid("param").id);
    const key = await currentKey(c.env.PROFILES, profileKey(row.workspaceId, c.req.valid("query"))!);
    // The explanation holds the values seen (unknown JSON), which RPC typing cannot name.
    const explanation = (await profileStub(c.env.PROFILES, key).explainRule(ruleOf(row))) as unknown as Explanation | null;
    if (!explanation) throw new ApiError(404, "not_found", `No profile ${key}.`);
    return c.json({ segment: row.id, profileKey: key, member: explanation.result, explanation } satisfies z.input<typeof Explained>, 200);
  },
);
