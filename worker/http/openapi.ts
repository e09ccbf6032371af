/**
 * What every admin route file shares to declare its routes with their zod schemas, so the OpenAPI
 * document (`GET /admin/api/openapi.json`) is generated from the routes and cannot drift:
 *
 * ```ts
 * export const thingRoutes = adminRouter();
 * const getThing = adminRoute({
 *   method: "get", path: "/{id}", role: "viewer", tags: ["Things"], summary: "A thing",
 *   request: { params: IdParams },
 *   responses: { 200: jsonResponse(Thing, "The thing") },
 * });
 * thingRoutes.openapi(getThing, async (c) => c.json(thing satisfies z.input<typeof Thing>, 200));
 * ```
 *
 * `adminRoute` adds the bearer security, the role check (before anything is read), the error
 * responses, and for a JSON body the byte limit and the `invalid_json` envelope; `adminRouter`'s
 * hook turns every validation failure into the 400 envelope `{"error":{"code":"invalid_request",
 * "message","path"}}`.
 */
import { createRoute, OpenAPIHono, z, type Hook, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { requireRole } from "../admin/auth";
import { parseJson } from "../collect/parse";
import { Content } from "../decisions/schema";
import type { AppEnv, Role } from "../env";
import { Rule } from "../segments/schema";
import { readBody } from "./body";
import { ApiError, fromZodError } from "./errors";

export { z };

/** The one error envelope (worker/http/errors.ts), as the document shows it. */
export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "invalid_request" }),
      message: z.string().openapi({ example: "origins.0: must be an origin like https://shop.example" }),
      path: z.string().optional().openapi({ description: "The field at fault, dotted: `variants.0.weight`.", example: "origins.0" }),
    }),
  })
  .openapi("Error");

// Recursive schemas are written once, as components, and referenced: the rule language and the
// JSON value a variant's `json` content holds. (`.openapi(name)` on a lazy schema names the
// schema itself, so its inner references become `$ref`s.)
Rule.openapi("Rule");
fieldOfOption(Content, "json").openapi("JsonValue");

/**
 * The schema of field `key` in the option of a union of objects that has it (`{json}` of a
 * variant's content): found by key, so a reordered or extended union still resolves.
 */
export function fieldOfOption(union: z.ZodUnion<readonly z.ZodObject[]>, key: string): z.ZodType {
  const option = union.options.find((o) => key in o.shape);
  if (!option) throw new Error(`no option of the union has a field "${key}"`);
  return option.shape[key] as z.ZodType;
}

/** A validation failure becomes the 400 envelope, naming the first field at fault. */
export const defaultHook: Hook<unknown, AppEnv, string, undefined> = (result) => {
  if (!result.success) throw fromZodError(result.error);
  return undefined;
};

/** A router for admin routes: its validation failures answer with the 400 envelope. */
export const adminRouter = () => new OpenAPIHono<AppEnv>({ defaultHook });

/** A JSON response of the document: `responses: { 200: jsonResponse(Site, "The site") }`. */
export const jsonResponse = <S extends z.ZodType>(schema: S, description: string) => ({ description, content: { "application/json": { schema } } });

/** A required JSON request body. */
export const jsonBody = <S extends z.ZodType>(schema: S, description?: string) => ({
  required: true,
  ...(description ? { description } : {}),
  content: { "application/json": { schema } },
});

/** An id in the path (`/{id}`). */
export const IdParams = z.object({
  id: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: "id", in: "path", description: "The id the resource was created with (`site_…`, `seg_…`, `exp_…`)." } }),
});

/** The error responses every admin route may give. */
const errorResponses = {
  400: jsonResponse(ErrorEnvelope, "The request was refused: `error.path` names the field at fault."),
  401: jsonResponse(ErrorEnvelope, "No bearer token, or one that was refused (`missing_token`, `invalid_token`)."),
  403: jsonResponse(ErrorEnvelope, "The token's role is too low for this route (`forbidden`)."),
  404: jsonResponse(ErrorEnvelope, "Nothing with this id in the token's workspace (`not_found`)."),
};

const bodyErrorResponses = {
  413: jsonResponse(ErrorEnvelope, "The body is larger than the route takes (`payload_too_large`)."),
  415: jsonResponse(ErrorEnvelope, "The body is not sent as `application/json` (`unsupported_media_type`)."),
};

/** Bytes of a JSON request body, unless a route says otherwise. */
export const BODY_LIMIT = 64 * 1024;

/**
 * Reads a JSON body once, within `limit` bytes (413 past it), and refuses what is not JSON with
 * the envelope (`415 unsupported_media_type`, `400 invalid_json`) before the route's schema runs.
 */
const readJson =
  (limit: number): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const type = c.req.header("Content-Type") ?? "";
    if (!/^application\/([\w.-]+\+)?json\s*(;|$)/i.test(type)) {
      throw new ApiError(415, "unsupported_media_type", "Send the body as JSON, with `Content-Type: application/json`.", { path: "body" });
    }
    const text = await readBody(c.req.raw, limit);
    parseJson(text);
    // What hono's validator reads (`c.req.json()` parses the cached text): the body is read once.
    (c.req.bodyCache as { text?: Promise<string> }).text = Promise.resolve(text);
    await next();
  };

type AdminRouteConfig = Omit<RouteConfig, "security" | "middleware"> & {
  /** The weakest role that may call the route. */
  role: Role;
  /** Bytes of the JSON body (default BODY_LIMIT). */
  bodyLimit?: number;
  /** The body is not JSON (an import's file): the route reads it itself, as a stream. */
  rawBody?: boolean;
};

/**
 * An admin route: bearer auth, the role check, the error responses, and the body limit, added to
 * what `createRoute` takes. The role is said in the operation's description too.
 */
export function adminRoute<const R extends AdminRouteConfig>(config: R) {
  const { role, bodyLimit, rawBody, ...route } = config;
  const middleware: MiddlewareHandler<AppEnv>[] = [requireRole(role)];
  if (route.request?.body && !rawBody) middleware.push(readJson(bodyLimit ?? BODY_LIMIT));
  const description = [route.description, `Role: \`${role}\` or above.`].filter(Boolean).join("\n\n");
  const bodyErrors = route.request?.body ? bodyErrorResponses : {};
  return createRoute({
    ...(route as Omit<R, "role" | "bodyLimit" | "rawBody">),
    description,
    security: [{ bearer: [] }],
    middleware,
    responses: { ...errorResponses, ...bodyErrors, ...route.responses } as typeof errorResponses & R["responses"],
  });
}

/** What the document says about the admin API as a whole: its auth scheme and where it is served. */
export function documentConfig(origin: string) {
  return {
    openapi: "3.1.0",
    info: {
      title: "Cohort",
      version: "0.1.0",
      description: "Segment-compatible collection, consent, profiles, segments and decisions at the edge; the admin API that configures them.",
    },
    servers: [{ url: origin, description: "This deployment" }],
  };
}

export const securitySchemes = {
  bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "An admin token (`npm run token -- --role admin`): HS256, issuer `cohort`, claims `role` and `ws`." },
  writeKey: {
    type: "http",
    scheme: "basic",
    description: "The site's public write key (a page on one of its origins, or an app, which sends no Origin) or secret key (servers) as the user name; or a `writeKey` body field.",
  },
  secretKey: { type: "http", scheme: "basic", description: "The site's secret key (`sk_…`) as the user name, from the site's own server; a write key is refused." },
} as const;

/**
 * A rule in a request body: documented as the rule language (`Rule`), checked by the rule
 * language's own parser in the route (`parseRule`), whose errors name the clause at fault.
 */
export const RuleInput = z.unknown().openapi({ allOf: [{ $ref: "#/components/schemas/Rule" }], description: "A rule of the segment language (README: Segments)." });
