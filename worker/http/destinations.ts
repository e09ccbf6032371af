/**
 * The destinations admin API (`/admin/api/destinations`, DESIGN.md §3 "Activation"): CRUD, stats,
 * secret rotation, the deliveries list (e.g. `?status=failed`) and replay. Declared with
 * @hono/zod-openapi so the OpenAPI document comes from the same schemas that validate; a request
 * that fails them gets the 400 envelope, with `path` naming the field.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq, inArray, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { bodyLimit } from "hono/body-limit";
import { requireRole } from "../admin/auth";
import { PURPOSES } from "../consent/purposes";
import type { AppContext, AppEnv } from "../env";
import { DESTINATION_TYPES, kindOf } from "../activation/kinds";
import { checkDestinationUrl, localDestinationsAllowed } from "../activation/ssrf";
import {
  createDestination,
  DELIVERY_STATUSES,
  deleteDestination,
  destinationStats,
  getDestination,
  listDeliveries,
  listDestinations,
  publicDelivery,
  publicDestination,
  replayDeliveries,
  rotateSecret,
  updateDestination,
  type DestinationRow,
} from "../activation/store";
import { segments } from "../store/schema";
import { ApiError, fromZodError } from "./errors";

export const destinationRoutes = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw fromZodError(result.error);
  },
});
destinationRoutes.use(
  "*",
  bodyLimit({
    maxSize: 64 * 1024,
    onError: () => {
      throw new ApiError(413, "payload_too_large", "The body is larger than 65536 bytes.");
    },
  }),
);

const eventFilter = z
  .object({
    types: z.array(z.enum(["track", "page", "screen", "identify", "group", "alias"])).max(6).optional(),
    names: z.array(z.string().min(1).max(255)).max(200).optional(),
  })
  .strict()
  .openapi("EventFilter");

export const destinationInput = z
  .object({
    name: z.string().trim().min(1).max(120),
    type: z.enum(DESTINATION_TYPES),
    config: z.record(z.string(), z.unknown()).openapi({ description: "webhook: {url}; google_ads: {customerId, userListId, endpoint?, developerToken?, accessToken?, loginCustomerId?, defaultCountry?}; meta: {audienceId, endpoint?, accessToken?, defaultCountry?}" }),
    events: eventFilter.nullish(),
    purposes: z.array(z.enum(PURPOSES)).max(3).optional(),
    segments: z.array(z.string().min(1).max(64)).max(100).optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .openapi("NewDestination");

export const destinationChanges = destinationInput.omit({ type: true }).partial().strict().openapi("DestinationChanges");

const stats = z.object({ delivered: z.number(), failed: z.number(), retrying: z.number(), pending: z.number(), filtered: z.number() }).openapi("DestinationStats");

const destination = z
  .object({
    id: z.string(),
    name: z.string(),
    type: z.enum(DESTINATION_TYPES),
    config: z.record(z.string(), z.unknown()),
    events: z.object({ types: z.array(z.string()).optional(), names: z.array(z.string()).optional() }).nullable(),
    purposes: z.array(z.enum(PURPOSES)),
    segments: z.array(z.string()),
    enabled: z.boolean(),
    paused: z.boolean(),
    pausedReason: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi("Destination");
const withStats = destination.extend({ stats }).openapi("DestinationWithStats");
const created = destination.extend({ secret: z.string().openapi({ description: "The whsec_ signing secret, shown once" }) }).openapi("CreatedDestination");

const delivery = z
  .object({
    id: z.string().openapi({ description: "Also the webhook-id header" }),
    kind: z.string(),
    messageId: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number(),
    nextAttemptAt: z.string().nullable(),
    lastAttemptAt: z.string().nullable(),
    deliveredAt: z.string().nullable(),
    responseStatus: z.number().nullable(),
    responseBody: z.string().nullable(),
    error: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi("Delivery");

const errorEnvelope = z
  .object({ error: z.object({ code: z.string(), message: z.string(), path: z.string().optional() }) })
  .openapi("Error");
const errors = {
  400: { description: "Invalid request; `path` names the field", content: { "application/json": { schema: errorEnvelope } } },
  401: { description: "Missing or invalid token", content: { "application/json": { schema: errorEnvelope } } },
  403: { description: "The token's role may not do this", content: { "application/json": { schema: errorEnvelope } } },
  404: { description: "No such destination in this workspace", content: { "application/json": { schema: errorEnvelope } } },
} as const;
const json = <S extends z.ZodType>(schema: S, description: string) => ({ description, content: { "application/json": { schema } } });
const jsonBody = <S extends z.ZodType>(schema: S) => ({ required: true, content: { "application/json": { schema } } });
const idParam = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) });
const security = [{ bearer: [] }];

/** The destination of the token's workspace, or 404. */
async function ownDestination(c: AppContext, id: string): Promise<DestinationRow> {
  const row = await getDestination(c.env.DB, c.get("admin").ws, id);
  if (!row) throw new ApiError(404, "not_found", `No destination ${id} in this workspace.`);
  return row;
}

/** A type's config, validated, and its target address checked against the SSRF rules. */
function checkConfig(c: AppContext, type: string, config: Record<string, unknown>): Record<string, unknown> {
  const kind = kindOf(type)!;
  const parsed = kind.config.safeParse(config);
  if (!parsed.success) throw fromZodError(parsed.error, ["config"]);
  const field = type === "webhook" ? "url" : "endpoint";
  const check = checkDestinationUrl(kind.target(parsed.data), localDestinationsAllowed(c.env));
  if (!check.ok) throw new ApiError(400, "invalid_request", `config.${field}: ${check.reason}`, { path: `config.${field}` });
  return parsed.data as Record<string, unknown>;
}

async function checkSegments(c: AppContext, ids: string[] | undefined) {
  if (!ids?.length) return;
  const found = await drizzle(c.env.DB)
    .select({ id: segments.id })
    .from(segments)
    .where(and(eq(segments.workspaceId, c.get("admin").ws), inArray(segments.id, ids), isNull(segments.deletedAt)));
  const known = new Set(found.map((s) => s.id));
  const missing = ids.findIndex((id) => !known.has(id));
  if (missing >= 0) throw new ApiError(400, "invalid_request", `segments.${missing}: segment ${ids[missing]} does not exist in this workspace`, { path: `segments.${missing}` });
}

destinationRoutes.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags: ["Destinations"],
    summary: "Create a destination (the signing secret is shown once) (role: editor)",
    security,
    middleware: [requireRole("editor")] as const,
    request: { body: jsonBody(destinationInput) },
    responses: { 201: json(created, "The destination, with its secret"), ...errors },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const config = checkConfig(c, input.type, input.config);
    await checkSegments(c, input.segments);
    const { row, secret } = await createDestination(c.env, c.get("admin").ws, { ...input, config });
    return c.json({ ...publicDestination(row), secret }, 201);
  },
);

destinationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags: ["Destinations"],
    summary: "List the workspace's destinations with their stats (role: viewer)",
    security,
    middleware: [requireRole("viewer")] as const,
    responses: { 200: json(z.object({ destinations: z.array(withStats) }), "The destinations"), ...errors },
  }),
  async (c) => {
    const rows = await listDestinations(c.env.DB, c.get("admin").ws);
    const all = await Promise.all(rows.map(async (row) => ({ ...publicDestination(row), stats: await destinationStats(c.env.DB, row) })));
    return c.json({ destinations: all }, 200);
  },
);

destinationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags: ["Destinations"],
    summary: "A destination with stats: delivered, failed, retrying, pending, filtered (role: viewer)",
    security,
    middleware: [requireRole("viewer")] as const,
    request: { params: idParam },
    responses: { 200: json(withStats, "The destination"), ...errors },
  }),
  async (c) => {
    const row = await ownDestination(c, c.req.valid("param").id);
    return c.json({ ...publicDestination(row), stats: await destinationStats(c.env.DB, row) }, 200);
  },
);

destinationRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    tags: ["Destinations"],
    summary: "Change a destination; `enabled: true` resumes a paused one (role: editor)",
    security,
    middleware: [requireRole("editor")] as const,
    request: { params: idParam, body: jsonBody(destinationChanges) },
    responses: { 200: json(destination, "The changed destination"), ...errors },
  }),
  async (c) => {
    const row = await ownDestination(c, c.req.valid("param").id);
    const changes = c.req.valid("json");
    if (Object.keys(changes).length === 0) throw new ApiError(400, "invalid_request", "Send at least one field to change.", { path: "body" });
    // Credentials are never shown back, so a changed config keeps the ones it does not resend.
    const kind = kindOf(row.type)!;
    const kept = Object.fromEntries(Object.entries(row.config).filter(([name]) => kind.secretFields.includes(name)));
    const config = changes.config ? checkConfig(c, row.type, { ...kept, ...changes.config }) : undefined;
    await checkSegments(c, changes.segments);
    const updated = await updateDestination(c.env.DB, row, { ...changes, ...(config ? { config } : {}) });
    return c.json(publicDestination(updated), 200);
  },
);

destinationRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    tags: ["Destinations"],
    summary: "Delete a destination (nothing more is sent) (role: editor)",
    security,
    middleware: [requireRole("editor")] as const,
    request: { params: idParam },
    responses: { 204: { description: "Deleted" }, ...errors },
  }),
  async (c) => {
    await deleteDestination(c.env.DB, await ownDestination(c, c.req.valid("param").id));
    return c.body(null, 204);
  },
);

destinationRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{id}/rotate-secret",
    tags: ["Destinations"],
    summary: "A new signing secret (shown once); the old one also signs for 24 hours (role: editor)",
    security,
    middleware: [requireRole("editor")] as const,
    request: { params: idParam },
    responses: { 200: json(z.object({ secret: z.string(), previousSecretExpiresAt: z.string() }), "The new secret"), ...errors },
  }),
  async (c) => {
    const row = await ownDestination(c, c.req.valid("param").id);
    const { secret, previousExpiresAt } = await rotateSecret(c.env, row, Date.now());
    c.header("Cache-Control", "no-store");
    return c.json({ secret, previousSecretExpiresAt: new Date(previousExpiresAt).toISOString() }, 200);
  },
);

export const deliveriesQuery = z.object({
  status: z.enum(DELIVERY_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().regex(/^\d{1,15}$/, "a createdAt in ms, from the last page").optional(),
});

destinationRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{id}/deliveries",
    tags: ["Destinations"],
    summary: "Deliveries, newest first; `?status=failed` for what failed for good (role: viewer)",
    security,
    middleware: [requireRole("viewer")] as const,
    request: { params: idParam, query: deliveriesQuery },
    responses: { 200: json(z.object({ deliveries: z.array(delivery) }), "The deliveries"), ...errors },
  }),
  async (c) => {
    const row = await ownDestination(c, c.req.valid("param").id);
    const rows = await listDeliveries(c.env.DB, row, c.req.valid("query"));
    return c.json({ deliveries: rows.map((d) => ({ ...publicDelivery(d), status: d.status as (typeof DELIVERY_STATUSES)[number] })) }, 200);
  },
);

export const replayInput = z.object({ ids: z.array(z.string().min(1).max(64)).min(1).max(90).optional() }).strict().openapi("Replay");

destinationRoutes.openapi(
  createRoute({
    method: "post",
    path: "/{id}/replay",
    tags: ["Destinations"],
    summary: "Send failed deliveries again (those named, else every failed one, up to 1,000), same webhook-id (role: editor)",
    security,
    middleware: [requireRole("editor")] as const,
    request: { params: idParam, body: { required: false, content: { "application/json": { schema: replayInput } } } },
    responses: { 202: json(z.object({ replayed: z.number() }), "How many were queued again"), ...errors },
  }),
  async (c) => {
    const row = await ownDestination(c, c.req.valid("param").id);
    if (!row.enabled) {
      const reason = row.pausedReason ? ` (${row.pausedReason})` : "";
      throw new ApiError(409, "destination_disabled", `The destination is not enabled${reason}: PATCH it with {"enabled": true} first.`);
    }
    const body = (c.req.valid("json") ?? {}) as z.infer<typeof replayInput>;
    const replayed = await replayDeliveries(c.env, row, body.ids, Date.now());
    return c.json({ replayed }, 202);
  },
);


