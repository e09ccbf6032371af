/**
 * The experiences admin API: create, read, update (a new version), delete, list. Bodies are
 * validated by the experience schema (worker/decisions/schema.ts), errors naming the field
 * (`invalid_experience`); an audience may name only segments that exist.
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Audience, Experience, parseExperience, type Experience as ExperienceBody } from "../decisions/schema";
import type { AppContext } from "../env";
import { experiences } from "../store/schema";
import { experienceOf, forgetExperiences, getExperience, listExperienceRows, type ExperienceRow } from "../store/experiences";
import { audienceSegments, listSegmentRows } from "../store/segments";
import { ApiError, fromZodError } from "./errors";
import type { Hook } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { adminRoute, adminRouter, fieldOfOption, IdParams, jsonBody, jsonResponse, z } from "./openapi";
import { newId } from "../ids";

export const experienceRoutes = adminRouter();
const tags = ["Experiences"];

// The inline audience rule is checked by the rule language's parser (a custom schema the generator
// cannot read): the document shows it as a Rule.
z.globalRegistry.add(fieldOfOption(Audience, "rule"), { type: "object", allOf: [{ $ref: "#/components/schemas/Rule" }] } as z.GlobalMeta);

const ExperienceInput = Experience.openapi("NewExperience");
/** The fields a PUT replaces: any of an experience's, each checked as on create. */
const ExperienceChanges = z.strictObject(Experience.shape).partial().openapi("ExperienceChanges");

export const ExperienceView = z
  .object({
    ...Experience.shape,
    id: z.string(),
    version: z.number().int(),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Experience");

const present = (row: ExperienceRow) =>
  ({ ...experienceOf(row), version: row.version, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() }) satisfies z.input<typeof ExperienceView>;

/** A whole experience, validated, or the 400 naming the field at fault. */
function validExperience(json: unknown): ExperienceBody {
  const parsed = parseExperience(json);
  if (!parsed.ok) throw new ApiError(400, "invalid_experience", `${parsed.error.path || "body"}: ${parsed.error.message}`, { path: parsed.error.path });
  return parsed.experience;
}

/** The segments an audience names must exist (as a segment's rule may only name segments that do). */
async function checkAudience(c: AppContext, experience: ExperienceBody): Promise<void> {
  const named = audienceSegments(experience);
  if (named.length === 0) return;
  const known = new Set((await listSegmentRows(c.env.DB, c.get("admin").ws)).map((row) => row.id));
  const missing = named.find((id) => !known.has(id));
  if (missing === undefined) return;
  const path = experience.audience && "segment" in experience.audience ? "audience.segment" : "audience.rule";
  throw new ApiError(400, "invalid_experience", `${path}: segment ${missing} does not exist in this workspace`, { path });
}

async function found(c: AppContext, id: string): Promise<ExperienceRow> {
  const row = await getExperience(c.env.DB, c.get("admin").ws, id);
  if (!row) throw new ApiError(404, "not_found", `No experience ${id} in this workspace.`);
  return row;
}

/**
 * Body failures are reported as the experience parser names them (following the option of a
 * union the input chose); for a change, over the experience it would make.
 */
const experienceHook =
  <I, P extends string>(base?: (c: AppContext) => Promise<Record<string, unknown>>): Hook<I, AppEnv, P, Promise<never> | undefined> =>
  (result, c) => {
    if (result.success) return undefined;
    const refuse = async (): Promise<never> => {
      if (result.target !== "json") throw fromZodError(result.error);
      const json = (result as { data?: unknown }).data;
      const merged = base && typeof json === "object" && json !== null && !Array.isArray(json) ? { ...(await base(c as unknown as AppContext)), ...json } : json;
      validExperience(merged);
      throw fromZodError(result.error);
    };
    return refuse();
  };

experienceRoutes.openapi(
  adminRoute({
    method: "post",
    path: "/",
    role: "editor",
    tags,
    summary: "Create an experience",
    request: { body: jsonBody(ExperienceInput) },
    responses: { 201: jsonResponse(ExperienceView, "The experience (status `draft` unless given)") },
  }),
  async (c) => {
    const experience = c.req.valid("json");
    await checkAudience(c, experience);
    const id = newId("exp");
    const [row] = await drizzle(c.env.DB).insert(experiences).values({ id, workspaceId: c.get("admin").ws, slot: experience.slot, body: experience }).returning();
    forgetExperiences(c.get("admin").ws);
    return c.json(present(row!), 201);
  },
  experienceHook(),
);

experienceRoutes.openapi(
  adminRoute({ method: "get", path: "/", role: "viewer", tags, summary: "List experiences", responses: { 200: jsonResponse(z.object({ experiences: z.array(ExperienceView) }), "Oldest first") } }),
  async (c) => c.json({ experiences: (await listExperienceRows(c.env.DB, c.get("admin").ws)).map(present) }, 200),
);

experienceRoutes.openapi(
  adminRoute({ method: "get", path: "/{id}", role: "viewer", tags, summary: "An experience", request: { params: IdParams }, responses: { 200: jsonResponse(ExperienceView, "The experience") } }),
  async (c) => c.json(present(await found(c, c.req.valid("param").id)), 200),
);

/** Replaces fields of an experience (the rest kept); assignments already made stay sticky. */
experienceRoutes.openapi(
  adminRoute({
    method: "put",
    path: "/{id}",
    role: "editor",
    tags,
    summary: "Change an experience",
    description: "The fields sent replace the stored ones (a new `version`); visitors already exposed keep their variant.",
    request: { params: IdParams, body: jsonBody(ExperienceChanges) },
    responses: { 200: jsonResponse(ExperienceView, "The experience as changed") },
  }),
  async (c) => {
    const row = await found(c, c.req.valid("param").id);
    // The fields as sent (not as parsed: defaults of fields left out must not replace stored values).
    const changes = (await c.req.json()) as Record<string, unknown>;
    const experience = validExperience({ ...(row.body as Record<string, unknown>), ...changes });
    await checkAudience(c, experience);
    const [updated] = await drizzle(c.env.DB)
      .update(experiences)
      .set({ body: experience, slot: experience.slot, version: row.version + 1, updatedAt: new Date() })
      .where(eq(experiences.id, row.id))
      .returning();
    forgetExperiences(row.workspaceId);
    return c.json(present(updated!), 200);
  },
  experienceHook(async (c) => (await found(c, c.req.param("id")!)).body as Record<string, unknown>),
);

experienceRoutes.openapi(
  adminRoute({ method: "delete", path: "/{id}", role: "editor", tags, summary: "Delete an experience", request: { params: IdParams }, responses: { 204: { description: "Deleted" } } }),
  async (c) => {
    const row = await found(c, c.req.valid("param").id);
    await drizzle(c.env.DB).update(experiences).set({ deletedAt: new Date() }).where(eq(experiences.id, row.id));
    forgetExperiences(row.workspaceId);
    return c.body(null, 204);
  },
);
