/**
 * One error envelope for every endpoint: `{"error":{"code","message","path"}}`.
 * Handlers and domain modules throw `ApiError` (from `worker/errors.ts`, below every layer);
 * `onError` turns it (and zod or JSON failures) into the envelope,
 * and logs anything unexpected before answering a generic 500.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { z } from "zod";
import { ApiError, issuePath } from "../errors";

export { ApiError, issuePath };

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
