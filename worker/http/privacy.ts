/**
 * Privacy requests (`/admin/api/privacy/*`, DESIGN.md §3): access (export) and erasure, declared
 * with their zod schemas (`@hono/zod-openapi`), so the OpenAPI document comes from the same
 * definitions the routes validate with. Erasure is a job (privacy/erasure.ts): the request answers
 * `{id, status, steps}` — 200 once every step is done, 202 while it is still being retried — and
 * `GET /requests/:id` follows it.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireRole } from "../admin/auth";
import type { AppEnv } from "../env";
import { ERASE_STEPS, getErasure, listErasures, openErasure, runErasure, scheduleErasure, type ErasureView } from "../privacy/erasure";
import { exportSubject } from "../privacy/subject";
import { bodyLimit } from "./body";
import { ApiError, fromZodError } from "./errors";

export const subjectSchema = z
  .union([z.object({ userId: z.string().min(1).max(255) }).strict(), z.object({ anonymousId: z.string().min(1).max(255) }).strict()], {
    error: "send exactly one of userId or anonymousId",
  })
  .openapi("PrivacySubject");

const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string(), path: z.string().optional() }) }).openapi("Error");

export const erasureSchema = z
  .object({
    id: z.string(),
    kind: z.literal("erase"),
    status: z.enum(["running", "retrying", "done"]),
    steps: z.array(z.object({ name: z.enum(ERASE_STEPS), done: z.boolean(), count: z.number().int() })),
    attempts: z.number().int(),
    lastError: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    doneAt: z.string().nullable(),
  })
  .openapi("ErasureRequest");

const errors = {
  400: { description: "Invalid request; `path` names the field", content: { "application/json": { schema: errorSchema } } },
  401: { description: "No or bad token", content: { "application/json": { schema: errorSchema } } },
  403: { description: "The role may not do this", content: { "application/json": { schema: errorSchema } } },
} as const;

const subjectBody = { body: { required: true, content: { "application/json": { schema: subjectSchema } } } };

const exportRoute = createRoute({
  method: "post",
  path: "/export",
  summary: "Everything held about a subject (role: admin)",
  tags: ["Privacy"],
  security: [{ bearer: [] }],
  middleware: [requireRole("admin")] as const,
  request: subjectBody,
  responses: {
    200: { description: "The subject's data from every store", content: { "application/json": { schema: z.record(z.string(), z.unknown()) } } },
    ...errors,
  },
});

const eraseRoute = createRoute({
  method: "post",
  path: "/erase",
  summary: "Erase a subject everywhere, as a resumable job (role: admin)",
  tags: ["Privacy"],
  security: [{ bearer: [] }],
  middleware: [requireRole("admin")] as const,
  request: subjectBody,
  responses: {
    200: { description: "Erased: every step is done", content: { "application/json": { schema: erasureSchema } } },
    202: { description: "Not finished yet (a step failed and is being retried): follow it at /requests/{id}", content: { "application/json": { schema: erasureSchema } } },
    ...errors,
  },
});

const requestRoute = createRoute({
  method: "get",
  path: "/requests/{id}",
  summary: "A privacy request's status and steps (role: admin)",
  tags: ["Privacy"],
  security: [{ bearer: [] }],
  middleware: [requireRole("admin")] as const,
  request: { params: z.object({ id: z.string().min(1).max(64) }) },
  responses: {
    200: { description: "The request", content: { "application/json": { schema: erasureSchema } } },
    404: { description: "No such request in this workspace", content: { "application/json": { schema: errorSchema } } },
    ...errors,
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/requests",
  summary: "The workspace's privacy requests, newest first (role: admin)",
  tags: ["Privacy"],
  security: [{ bearer: [] }],
  middleware: [requireRole("admin")] as const,
  request: { query: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }) },
  responses: {
    200: { description: "The requests (a done request keeps only its counts)", content: { "application/json": { schema: z.object({ requests: z.array(erasureSchema) }) } } },
    ...errors,
  },
});

export const privacyRoutes = new OpenAPIHono<AppEnv>({
  // Every validation failure answers the one 400 envelope, naming the field.
  defaultHook: (result) => {
    if (!result.success) throw fromZodError(result.error);
  },
});

// The body is read here, with the admin API's limit (413 past it), before the validator parses it.
privacyRoutes.use("*", bodyLimit());

privacyRoutes.openapi(exportRoute, async (c) => {
  const subject = c.req.valid("json");
  c.header("Cache-Control", "no-store");
  return c.json(await exportSubject(c.env, c.get("admin").ws, subject), 200);
});

privacyRoutes.openapi(eraseRoute, async (c) => {
  const subject = c.req.valid("json");
  const ws = c.get("admin").ws;
  const now = Date.now();
  const id = await openErasure(c.env.DB, ws, subject, now);
  const view = (await runErasure(c.env, id, now)) as ErasureView;
  if (view.status === "done") return c.json(view, 200);
  // Not finished: the queue resumes it (and the daily cron, should the queue be down too).
  await scheduleErasure(c.env.EVENTS, ws, view).catch((error) => console.error(`erasure ${id}: could not queue its retry; the cron resumes it`, error));
  return c.json(view, 202);
});

privacyRoutes.openapi(listRoute, async (c) => {
  const { limit } = c.req.valid("query");
  return c.json({ requests: await listErasures(c.env.DB, c.get("admin").ws, limit) }, 200);
});

privacyRoutes.openapi(requestRoute, async (c) => {
  const { id } = c.req.valid("param");
  const view = await getErasure(c.env.DB, c.get("admin").ws, id);
  if (!view) throw new ApiError(404, "not_found", `No privacy request ${id} in this workspace.`);
  return c.json(view, 200);
});
