/**
 * `GET /admin/api/segments/:id/export` (DESIGN.md §3 "Activation"): a segment's members streamed as
 * CSV or NDJSON (worker/activation/export.ts). Mounted beside the segments routes, at the same prefix.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireRole } from "../admin/auth";
import { exportMembers } from "../activation/export";
import { PURPOSES } from "../consent/purposes";
import type { AppEnv } from "../env";
import { getSegment } from "../store/segments";
import { ApiError, fromZodError } from "./errors";

export const segmentExportRoutes = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw fromZodError(result.error);
  },
});

const FIELD = /^(userId|anonymousId|profileKey|email|phone|traits\.[A-Za-z0-9_.$-]{1,64})$/;

export const exportQuery = z.object({
  format: z.enum(["csv", "ndjson"]).default("csv"),
  fields: z
    .string()
    .max(2000)
    .default("userId,anonymousId,email")
    .transform((text) => text.split(",").map((f) => f.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(FIELD, "fields are userId, anonymousId, profileKey, email, phone or traits.<name>")).min(1).max(50))
    .openapi({ type: "string", example: "userId,email,traits.plan" }),
  hash: z.enum(["sha256"]).optional(),
  purpose: z.enum(PURPOSES).optional(),
});

const errorEnvelope = z.object({ error: z.object({ code: z.string(), message: z.string(), path: z.string().optional() }) });

segmentExportRoutes.openapi(
  createRoute({
    method: "get",
    path: "/{id}/export",
    tags: ["Segments"],
    summary: "Stream a segment's members as CSV or NDJSON; hash=sha256 hashes emails and phones; purpose keeps members who granted it (role: viewer)",
    security: [{ bearer: [] }],
    middleware: [requireRole("viewer")] as const,
    request: { params: z.object({ id: z.string().min(1).max(64).openapi({ param: { name: "id", in: "path" } }) }), query: exportQuery },
    responses: {
      200: { description: "The members", content: { "text/csv": { schema: z.string() }, "application/x-ndjson": { schema: z.string() } } },
      400: { description: "Invalid query", content: { "application/json": { schema: errorEnvelope } } },
      404: { description: "No such segment", content: { "application/json": { schema: errorEnvelope } } },
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const query = c.req.valid("query");
    const ws = c.get("admin").ws;
    const segment = await getSegment(c.env.DB, ws, id);
    if (!segment) throw new ApiError(404, "not_found", `No segment ${id} in this workspace.`);
    const stream = exportMembers(c.env, { segmentId: id, workspaceId: ws, ...query });
    return new Response(stream, {
      status: 200,
      headers: {
        "Content-Type": query.format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
        "Content-Disposition": `attachment; filename="segment-${id}.${query.format === "csv" ? "csv" : "ndjson"}"`,
        "Cache-Control": "no-store",
      },
    });
  },
);
