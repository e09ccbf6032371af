/**
 * Imports (`/admin/api/imports`, README "Imports"): upload a CSV or NDJSON file (streamed to R2,
 * applied by queue chunks), follow its progress, list the workspace's imports.
 */
import { PURPOSES, type Purpose } from "../consent/purposes";
import { formatOf, getImport, listImports, MAX_IMPORT_BYTES, startImport } from "../sources/imports";
import { ApiError } from "./errors";
import { adminRoute, adminRouter, IdParams, jsonResponse, z } from "./openapi";

export const importRoutes = adminRouter();
const tags = ["Imports"];

const Progress = {
  id: z.string().openapi({ example: "imp_0c6f…" }),
  siteId: z.string(),
  format: z.enum(["csv", "ndjson"]),
  purposes: z.array(z.enum(PURPOSES)),
  status: z.enum(["queued", "running", "done", "failed"]),
  bytes: z.number().int(),
  rows: z.number().int().openapi({ description: "Rows read so far (the header not counted)." }),
  applied: z.number().int().openapi({ description: "Rows on their profile (new, or already applied before: `duplicates`)." }),
  duplicates: z.number().int().openapi({ description: "Of the applied rows, those their profile already had (a re-run)." }),
  rejected: z.number().int(),
  failure: z.string().nullable().openapi({ description: "Why a failed import stopped." }),
  createdAt: z.string(),
  updatedAt: z.string(),
};
const RowError = z.object({ row: z.number().int(), message: z.string() });
const ImportView = z.object({ ...Progress, errors: z.array(RowError).openapi({ description: "The first 1,000 rejected rows, with their reasons." }) }).openapi("Import");
const ImportSummary = z.object(Progress).openapi("ImportSummary");

const UploadQuery = z.object({
  siteId: z.string().min(1).max(200).openapi({ example: "site_demo" }),
  purposes: z
    .string()
    .max(200)
    .transform((value, ctx) => {
      const list = [...new Set(value.split(",").map((p) => p.trim()).filter(Boolean))];
      const unknown = list.find((p) => !(PURPOSES as readonly string[]).includes(p));
      if (unknown) ctx.addIssue({ code: "custom", message: `${unknown} is not a purpose (${PURPOSES.join(", ")})` });
      else if (!list.includes("analytics") && !list.includes("personalization")) ctx.addIssue({ code: "custom", message: "an import needs analytics or personalization consent to keep a profile" });
      return list as Purpose[];
    })
    .openapi({ type: "string", example: "analytics,personalization", description: "The consent the rows' people gave (the import is their consent source)." }),
});

importRoutes.openapi(
  adminRoute({
    method: "post",
    path: "/imports",
    role: "editor",
    rawBody: true,
    tags,
    summary: "Upload a CSV or NDJSON file of profiles (up to 100 MB), applied in the background",
    request: {
      query: UploadQuery,
      body: {
        required: true,
        content: { "text/csv": { schema: z.string().openapi({ example: "userId,email,plan\nada,ada@example.com,gold" }) }, "application/x-ndjson": { schema: z.string() } },
      },
    },
    responses: {
      202: jsonResponse(ImportView, "Stored and queued: follow it at GET /admin/api/imports/{id}"),
      411: jsonResponse(z.object({ error: z.object({ code: z.string(), message: z.string() }) }), "No Content-Length (`length_required`)."),
    },
  }),
  async (c) => {
    const format = formatOf(c.req.header("Content-Type") ?? "");
    if (!format) throw new ApiError(415, "unsupported_media_type", "Send the file as `text/csv` (with a header row) or `application/x-ndjson`.", { path: "body" });
    const header = c.req.header("Content-Length");
    if (header === undefined || !/^\d+$/.test(header)) throw new ApiError(411, "length_required", "Send the file with a Content-Length (curl --data-binary @file does).");
    const length = Number(header);
    if (length > MAX_IMPORT_BYTES) throw new ApiError(413, "payload_too_large", `An import is at most ${MAX_IMPORT_BYTES / 1024 / 1024} MB; this one is ${length} bytes. Nothing was kept.`, { path: "body" });
    const { siteId, purposes } = c.req.valid("query");
    const body = c.req.raw.body ?? new Blob([]).stream();
    const view = await startImport(c.env, { workspaceId: c.get("admin").ws, siteId, purposes, format, length, body });
    return c.json(view, 202);
  },
);

importRoutes.openapi(
  adminRoute({ method: "get", path: "/imports", role: "viewer", tags, summary: "The workspace's imports, newest first", responses: { 200: jsonResponse(z.object({ imports: z.array(ImportSummary) }), "The imports") } }),
  async (c) => c.json({ imports: await listImports(c.env.DB, c.get("admin").ws) }, 200),
);

importRoutes.openapi(
  adminRoute({ method: "get", path: "/imports/{id}", role: "viewer", tags, summary: "An import's progress and rejected rows", request: { params: IdParams }, responses: { 200: jsonResponse(ImportView, "The import") } }),
  async (c) => {
    const { id } = c.req.valid("param");
    const view = await getImport(c.env.DB, c.get("admin").ws, id);
    if (!view) throw new ApiError(404, "not_found", `No import ${id} in this workspace.`);
    return c.json(view, 200);
  },
);
