/**
 * The error every layer may raise for a request it refuses, in hono's HTTPException style (a
 * status, `name` set, the original kept on `cause`), plus the envelope's `code` and the `path` of
 * the field at fault. It sits below every layer so domain modules raise it without importing the
 * HTTP layer; `http/errors.ts`'s `onError` maps it to `{"error":{"code","message","path"}}`.
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";

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
