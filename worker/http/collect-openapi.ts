/**
 * The collection API's paths in the OpenAPI document. Its routes are plain hono routes
 * (worker/http/collect.ts: text/plain bodies, write keys, partial batches), so they are registered
 * here, with the same zod schemas the routes validate with; the admin routes declare themselves.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { batchEnvelopeSchema, eventSchemas } from "../collect/schema";
import { ProfileView } from "./admin";
import { consentSchema } from "./consent";
import { decideSchema } from "./decide";
import { profileQuery } from "../sources/profile-api";
import { ErrorEnvelope, jsonResponse, securitySchemes, z } from "./openapi";

const Rejection = z.object({ index: z.number().int(), code: z.string(), message: z.string(), path: z.string() });
const Decisions = z
  .record(z.string(), z.object({ experience: z.string(), variant: z.string(), content: z.record(z.string(), z.unknown()) }))
  .openapi("Decisions", { description: "By slot; a slot with no decision (no match, holdout) is absent." });
const Collected = z
  .object({ success: z.literal(true), accepted: z.number().int(), rejected: z.array(Rejection), decisions: Decisions.optional() })
  .openapi("Collected", { description: "`decisions` when the request asked `?decide=slot,…`." });
const Purposes = z.object({ necessary: z.boolean(), analytics: z.boolean(), personalization: z.boolean(), advertising: z.boolean() });
const ConsentAnswer = z.object({ consent: z.object({ purposes: Purposes, sources: z.record(z.string(), z.string()), policyVersion: z.string() }) });

const ServerProfile = z
  .object({
    profileKey: z.string().openapi({ example: "demo:user:ada" }),
    traits: z.record(z.string(), z.unknown()),
    segments: z.array(z.string()).openapi({ description: "Ids of the segments the profile is in now." }),
    predictions: z.record(z.string(), z.unknown()).openapi({ description: "By prediction id: `{score, percentile}`; `{}` until a prediction is ready." }),
    consent: z.object({ purposes: Purposes, sources: z.record(z.string(), z.string()), policyVersion: z.string() }).nullable(),
  })
  .openapi("ServerProfile");

const refused = { "4XX": jsonResponse(ErrorEnvelope, "Refused: `error.path` names the field at fault; 413 past the size limits, 429 past the rate limits.") };
/**
 * A collection body as JSON Schema, written out by zod itself: the event schemas hold custom checks
 * (a JSON object kept as parsed) that only zod can describe. No cycles, so nothing points at `$defs`.
 */
const bodySchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any", cycles: "throw", reused: "inline" }) as Record<string, unknown>;
const body = (schema: z.ZodType) => {
  const json = bodySchema(schema);
  delete json.$schema;
  return { required: true, content: { "application/json": { schema: json }, "text/plain": { schema: json } } };
};
const tags = ["Collection"];

export function registerCollectionPaths(registry: OpenAPIHono["openAPIRegistry"]): void {
  registry.registerComponent("securitySchemes", "writeKey", securitySchemes.writeKey);
  const security: Record<string, string[]>[] = [{ writeKey: [] }, {}];
  const collect = (path: string, summary: string, schema: z.ZodType) =>
    registry.registerPath({ method: "post", path, summary, tags, security, request: { body: body(schema) }, responses: { 200: jsonResponse(Collected, "Accepted (the bad events of a batch are listed, the others kept)"), ...refused } });
  collect("/v1/track", "Record an action (also /v1/t)", eventSchemas.track.omit({ type: true }));
  collect("/v1/page", "Record a page view (also /v1/p)", eventSchemas.page.omit({ type: true }));
  collect("/v1/screen", "Record a screen view (also /v1/s)", eventSchemas.screen.omit({ type: true }));
  collect("/v1/identify", "Say who the user is (also /v1/i)", eventSchemas.identify.omit({ type: true }));
  collect("/v1/group", "Associate the user with a group (also /v1/g)", eventSchemas.group.omit({ type: true }));
  collect("/v1/alias", "Merge a previous id into a user (also /v1/a)", eventSchemas.alias.omit({ type: true }));
  collect("/v1/batch", "Several events at once; `?decide=slot,…` adds decisions (also /v1/b)", batchEnvelopeSchema);
  collect("/beacon/v1/batch", "RudderStack's beacon batches (`?writeKey=`; navigator.sendBeacon sends no headers)", batchEnvelopeSchema);
  registry.registerPath({
    method: "post",
    path: "/v1/consent",
    summary: "A visitor's consent choice or CMP string",
    tags,
    security,
    request: { body: body(consentSchema) },
    responses: { 200: jsonResponse(ConsentAnswer, "The visitor's resolved purposes (the cookie is set or cleared with it)"), ...refused },
  });
  registry.registerPath({
    method: "post",
    path: "/v1/decide",
    summary: "What each slot shows for this visitor",
    tags,
    security,
    request: { body: body(decideSchema) },
    responses: { 200: jsonResponse(z.object({ decisions: Decisions }), "Decisions by slot"), ...refused },
  });
  registry.registerComponent("securitySchemes", "secretKey", securitySchemes.secretKey);
  registry.registerPath({
    method: "get",
    path: "/v1/profile",
    summary: "A visitor's traits, segments, predictions and consent, for the site's server (secret key only)",
    tags,
    security: [{ secretKey: [] }],
    request: { query: profileQuery },
    responses: {
      200: jsonResponse(ServerProfile, "The profile the id leads to (after merges)"),
      "4XX": jsonResponse(ErrorEnvelope, "401 without a key; 403 `secret_key_required` for a write key; 404 `profile_not_found` when the site's workspace has no such profile (or it was erased)."),
    },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/me",
    summary: "The calling browser's own profile (by its cookie)",
    tags,
    responses: { 200: jsonResponse(z.object({ profile: ProfileView.nullable() }), "The profile, or null without one"), ...refused },
  });
  registry.registerPath({
    method: "get",
    path: "/v1/projects/{writeKey}/settings",
    summary: "The settings document analytics.js loads",
    tags,
    request: { params: z.object({ writeKey: z.string().openapi({ param: { name: "writeKey", in: "path" } }) }) },
    responses: { 200: jsonResponse(z.record(z.string(), z.unknown()), "Segment's settings document for this write key"), ...refused },
  });
  registry.registerPath({
    method: "get",
    path: "/sourceConfig",
    summary: "The source configuration RudderStack's JS SDK loads (also /sourceConfig/; the key may be in Basic auth)",
    tags,
    request: { query: z.object({ writeKey: z.string().optional() }) },
    responses: { 200: jsonResponse(z.record(z.string(), z.unknown()), "RudderStack's sourceConfig for this write key"), ...refused },
  });
}
