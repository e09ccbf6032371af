/**
 * One error envelope for every endpoint: `{"error":{"code","message","path"}}`.
 * Handlers throw `ApiError`; `onError` turns it (and zod or JSON failures) into the envelope,
 * and logs anything unexpected before answering a generic 500.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";

export class ApiError extends HTTPException {
  override name = "ApiError";
  readonly code: string;
  readonly path?: string;
  readonly extra?: Record<string, unknown>;
  readonly headers?: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options: { path?: string; cause?: unknown; extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(status, { message, cause: options.cause });
    this.headers = options.headers;
    this.code = code;
    this.path = options.path;
    this.extra = options.extra;
  }
}

/** Formats a zod issue path the way the envelope names fields: `batch.3.context.page.url`. */
export function issuePath(prefix: ReadonlyArray<PropertyKey>, issue: z.core.$ZodIssue): string {
  return [...prefix, ...issue.path].map(String).join(".");
}

/** The first issue of a zod error as an ApiError (400, code `invalid_request`). */
export function fromZodError(error: z.ZodError, prefix: ReadonlyArray<PropertyKey> = []): ApiError {
  const issue = error.issues[0]!;
  const path = issuePath(prefix, issue);
  return new ApiError(400, "invalid_request", `${path || "body"}: ${issue.message}`, { path, cause: error });
}

export function errorBody(code: string, message: string, path?: string) {
  return { error: path === undefined ? { code, message } : { code, message, path } };
}

export function onError(error: Error, c: Context) {
  if (error instanceof ApiError) {
    return c.json({ ...errorBody(error.code, error.message, error.path), ...error.extra }, error.status, error.headers);
  }
  if (error instanceof z.ZodError) {
    const api = fromZodError(error);
    return c.json(errorBody(api.code, api.message, api.path), 400);
  }
  if (error instanceof HTTPException) {
    return c.json(errorBody("http_error", error.message || "request failed"), error.status);
  }
  console.error("unhandled error", c.req.method, c.req.path, error);
  return c.json(errorBody("internal_error", "Cohort could not handle this request; it is safe to retry."), 500);
}
