/**
 * The OpenAPI 3.1 document of Cohort's HTTP API (`GET /admin/api/openapi.json`), generated from the
 * same zod schemas the routes validate with, so it cannot drift from what the Worker accepts.
 */
import { z } from "zod";
import { batchEnvelopeSchema, eventSchemas } from "../collect/schema";
import { Experience } from "../decisions/schema";
import { countsQuery, listSchema, lookupSchema, newSiteSchema, siteChangesSchema, siteQuery, subjectSchema } from "../http/admin";
import { consentSchema } from "../http/consent";
import { decideSchema } from "../http/decide";
import { reportPaths } from "../http/reports";
import { membersQuery, previewInput, segmentInput, subjectQuery } from "../http/segments";

type Schema = z.ZodType;
const json = (schema: Schema) => z.toJSONSchema(schema, { unrepresentable: "any", io: "input" });

const errorEnvelope = {
  type: "object",
  required: ["error"],
  properties: { error: { type: "object", required: ["code", "message"], properties: { code: { type: "string" }, message: { type: "string" }, path: { type: "string" } } } },
};

interface Operation {
  summary: string;
  auth: "writeKey" | "admin" | "none";
  role?: "viewer" | "editor" | "admin";
  body?: Schema;
  query?: Schema;
  ok?: number;
}

function operation(op: Operation) {
  const query = op.query ? (json(op.query) as { properties?: Record<string, unknown>; required?: string[] }) : undefined;
  return {
    summary: op.role ? `${op.summary} (role: ${op.role})` : op.summary,
    ...(op.auth === "admin" ? { security: [{ bearer: [] }] } : op.auth === "writeKey" ? { security: [{ writeKey: [] }, {}] } : {}),
    ...(query?.properties
      ? { parameters: Object.entries(query.properties).map(([name, schema]) => ({ name, in: "query", required: query.required?.includes(name) ?? false, schema })) }
      : {}),
    ...(op.body ? { requestBody: { required: true, content: { "application/json": { schema: json(op.body) }, "text/plain": { schema: json(op.body) } } } } : {}),
    responses: {
      [String(op.ok ?? 200)]: { description: "OK" },
      "4XX": { description: "The request was refused; `path` names the field at fault.", content: { "application/json": { schema: errorEnvelope } } },
    },
  };
}

let cached: unknown;

export function openApiDocument(): unknown {
  if (cached) return cached;
  const collect = (summary: string, body: Schema) => ({ post: operation({ summary, auth: "writeKey", body }) });
  const paths: Record<string, unknown> = {
    ...reportPaths(),
    "/v1/track": collect("Record an action (also /v1/t)", eventSchemas.track.omit({ type: true })),
    "/v1/page": collect("Record a page view (also /v1/p)", eventSchemas.page.omit({ type: true })),
    "/v1/screen": collect("Record a screen view (also /v1/s)", eventSchemas.screen.omit({ type: true })),
    "/v1/identify": collect("Say who the user is (also /v1/i)", eventSchemas.identify.omit({ type: true })),
    "/v1/group": collect("Associate the user with a group (also /v1/g)", eventSchemas.group.omit({ type: true })),
    "/v1/alias": collect("Merge a previous id into a user (also /v1/a)", eventSchemas.alias.omit({ type: true })),
    "/v1/batch": collect("Several events at once; `?decide=slot,…` adds decisions (also /v1/b)", batchEnvelopeSchema),
    "/v1/consent": collect("A visitor's consent choice or CMP string", consentSchema),
    "/v1/decide": collect("What each slot shows for this visitor", decideSchema),
    "/v1/me": { get: operation({ summary: "The calling browser's own profile (by its cookie)", auth: "none" }) },
    "/v1/projects/{writeKey}/settings": { get: operation({ summary: "The settings document analytics.js loads", auth: "none" }) },
    "/admin/api/sites": {
      get: operation({ summary: "List the workspace's sites", auth: "admin", role: "viewer" }),
      post: operation({ summary: "Create a site (the secret key is shown once)", auth: "admin", role: "admin", body: newSiteSchema, ok: 201 }),
    },
    "/admin/api/sites/{id}": { patch: operation({ summary: "Change or disable a site", auth: "admin", role: "admin", body: siteChangesSchema }) },
    "/admin/api/profiles/lookup": { get: operation({ summary: "A profile by userId or anonymousId", auth: "admin", role: "viewer", query: lookupSchema }) },
    "/admin/api/events": { get: operation({ summary: "The newest archived events", auth: "admin", role: "viewer", query: listSchema }) },
    "/admin/api/failed-events": { get: operation({ summary: "The newest refused events, with reasons", auth: "admin", role: "viewer", query: listSchema }) },
    "/admin/api/privacy/export": { post: operation({ summary: "Everything held about a subject", auth: "admin", role: "admin", body: subjectSchema }) },
    "/admin/api/privacy/erase": { post: operation({ summary: "Erase a subject everywhere", auth: "admin", role: "admin", body: subjectSchema }) },
    "/admin/api/consent/ledger": { get: operation({ summary: "A site's consent ledger", auth: "admin", role: "viewer", query: siteQuery }) },
    "/admin/api/consent/ledger/verify": { get: operation({ summary: "Check the ledger's hash chain", auth: "admin", role: "viewer", query: siteQuery }) },
    "/admin/api/reports/cookieless": { get: operation({ summary: "Anonymous counts of cookieless visitors", auth: "admin", role: "viewer", query: countsQuery }) },
    "/admin/api/segments": {
      get: operation({ summary: "List segments with sizes", auth: "admin", role: "viewer" }),
      post: operation({ summary: "Create a segment (backfilled)", auth: "admin", role: "editor", body: segmentInput, ok: 201 }),
    },
    "/admin/api/segments/preview": { post: operation({ summary: "Estimate a rule's size on a sample", auth: "admin", role: "viewer", body: previewInput }) },
    "/admin/api/segments/{id}": {
      get: operation({ summary: "A segment with size and backfill progress", auth: "admin", role: "viewer" }),
      put: operation({ summary: "Change a segment (a new rule is a new version)", auth: "admin", role: "editor", body: segmentInput.partial() }),
      delete: operation({ summary: "Delete a segment", auth: "admin", role: "editor", ok: 204 }),
    },
    "/admin/api/segments/{id}/members": { get: operation({ summary: "Members, paged", auth: "admin", role: "viewer", query: membersQuery }) },
    "/admin/api/segments/{id}/explain": { get: operation({ summary: "Which clauses held for a profile", auth: "admin", role: "viewer", query: subjectQuery }) },
    "/admin/api/experiences": {
      get: operation({ summary: "List experiences", auth: "admin", role: "viewer" }),
      post: operation({ summary: "Create an experience", auth: "admin", role: "editor", body: Experience, ok: 201 }),
    },
    "/admin/api/experiences/{id}": {
      get: operation({ summary: "An experience", auth: "admin", role: "viewer" }),
      put: operation({ summary: "Change an experience: the fields sent replace the stored ones (exposed visitors keep their variant)", auth: "admin", role: "editor", body: Experience }),
      delete: operation({ summary: "Delete an experience", auth: "admin", role: "editor", ok: 204 }),
    },
  };
  cached = {
    openapi: "3.1.0",
    info: { title: "Cohort", version: "0.1.0", description: "Segment-compatible collection, consent, profiles, segments and decisions at the edge." },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
        writeKey: { type: "http", scheme: "basic", description: "The site's write key (browser, allowed origins) or secret key (servers) as the user name; or a `writeKey` body field." },
      },
    },
    paths,
  };
  return cached;
}
