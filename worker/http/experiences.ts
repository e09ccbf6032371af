/**
 * The experiences admin API: create, read, update (a new version), delete, list. Bodies are
 * validated by the experience schema (worker/decisions/schema.ts), errors naming the field.
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { requireRole } from "../admin/auth";
import { parseExperience } from "../decisions/schema";
import type { AppContext, AppEnv } from "../env";
import { parseJson } from "../collect/parse";
import { experiences } from "../store/schema";
import { experienceOf, forgetExperiences, getExperience, listExperienceRows, type ExperienceRow } from "../store/experiences";
import { readBody } from "./body";
import { ApiError } from "./errors";

export const experienceRoutes = new Hono<AppEnv>();

const present = (row: ExperienceRow) => ({ ...experienceOf(row), version: row.version, createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() });

async function validBody(c: AppContext, base?: Record<string, unknown>) {
  const json = parseJson(await readBody(c.req.raw, 64 * 1024));
  const merged = base && typeof json === "object" && json !== null && !Array.isArray(json) ? { ...base, ...json } : json;
  const parsed = parseExperience(merged);
  if (!parsed.ok) throw new ApiError(400, "invalid_experience", `${parsed.error.path || "body"}: ${parsed.error.message}`, { path: parsed.error.path });
  return parsed.experience;
}

async function found(c: AppContext): Promise<ExperienceRow> {
  const row = await getExperience(c.env.DB, c.get("admin").ws, c.req.param("id")!);
  if (!row) throw new ApiError(404, "not_found", `No experience ${c.req.param("id")} in this workspace.`);
  return row;
}

experienceRoutes.post("/", requireRole("editor"), async (c) => {
  const experience = await validBody(c);
  const id = `exp_${[...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
  const [row] = await drizzle(c.env.DB).insert(experiences).values({ id, workspaceId: c.get("admin").ws, slot: experience.slot, body: experience }).returning();
  forgetExperiences(c.get("admin").ws);
  return c.json(present(row!), 201);
});

experienceRoutes.get("/", requireRole("viewer"), async (c) => c.json({ experiences: (await listExperienceRows(c.env.DB, c.get("admin").ws)).map(present) }));

experienceRoutes.get("/:id", requireRole("viewer"), async (c) => c.json(present(await found(c))));

/** Replaces fields of an experience (the rest kept); assignments already made stay sticky. */
experienceRoutes.put("/:id", requireRole("editor"), async (c) => {
  const row = await found(c);
  const experience = await validBody(c, row.body as Record<string, unknown>);
  const [updated] = await drizzle(c.env.DB)
    .update(experiences)
    .set({ body: experience, slot: experience.slot, version: row.version + 1, updatedAt: new Date() })
    .where(eq(experiences.id, row.id))
    .returning();
  forgetExperiences(row.workspaceId);
  return c.json(present(updated!));
});

experienceRoutes.delete("/:id", requireRole("editor"), async (c) => {
  const row = await found(c);
  await drizzle(c.env.DB).update(experiences).set({ deletedAt: new Date() }).where(eq(experiences.id, row.id));
  forgetExperiences(row.workspaceId);
  return c.body(null, 204);
});
