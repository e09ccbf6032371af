/**
 * Request bodies, read with a hard byte limit (streamed, so a huge body is refused without being
 * buffered) and parsed against a zod schema into the one error envelope.
 */
import type { MiddlewareHandler } from "hono";
import type { z } from "zod";
import { parseJson } from "../collect/parse";
import { ApiError, fromZodError } from "./errors";

export class BodyTooLarge extends ApiError {
  override name = "BodyTooLarge";
  constructor(
    readonly limit: number,
    /** The first `limit` bytes, decoded, so the refused payload can still be recorded. */
    readonly head: string,
  ) {
    super(413, "payload_too_large", `The body is larger than ${limit} bytes.`);
  }
}

/**
 * Past the limit the rest of the body is still read (and thrown away), up to `DRAIN_MAX`: a
 * response sent while the client is still sending makes some proxies (wrangler dev's among them)
 * drop the connection, and the client would see a reset or a 500 instead of the 413.
 */
export const DRAIN_MAX = 128 * 1024 * 1024;

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, read: number): Promise<void> {
  let bytes = read;
  while (bytes <= DRAIN_MAX) {
    const { done, value } = await reader.read();
    if (done) return;
    bytes += value.byteLength;
  }
  await reader.cancel();
}

/** The body as text, or `BodyTooLarge` past `limit` bytes (declared or streamed, chunked or not). */
export async function readBody(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get("Content-Length") ?? NaN);
  if (!request.body) return "";
  const reader = request.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > limit) {
        const head = text + decoder.decode(value.subarray(0, Math.max(0, value.byteLength - (bytes - limit))));
        await drain(reader, bytes);
        throw new BodyTooLarge(limit, head);
      }
      text += decoder.decode(value, { stream: true });
      if (Number.isFinite(declared) && declared > limit) {
        await drain(reader, bytes);
        throw new BodyTooLarge(limit, text);
      }
    }
  } catch (error) {
    if (error instanceof BodyTooLarge) throw error;
    // The client went away mid-body: nothing usable arrived.
    throw new ApiError(400, "invalid_body", "The request body could not be read to its end.", { cause: error });
  }
  return text + decoder.decode();
}

/**
 * Middleware for routes whose validator reads the body itself (`@hono/zod-openapi`): the body is
 * read here, at most `limit` bytes (413 past it), and handed to the validator from hono's cache.
 */
export const bodyLimit =
  (limit = 64 * 1024): MiddlewareHandler =>
  async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const text = await readBody(c.req.raw, limit);
      (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(text);
    }
    await next();
  };

/** Reads a JSON body (at most `limit` bytes) and validates it. */
export async function jsonBody<S extends z.ZodType>(request: Request, schema: S, limit = 64 * 1024): Promise<z.infer<S>> {
  const result = schema.safeParse(parseJson(await readBody(request, limit)));
  if (!result.success) throw fromZodError(result.error);
  return result.data;
}

/** Validates a request's query string, into the same 400 envelope as bodies. */
export function queryOf<S extends z.ZodType>(query: Record<string, string>, schema: S): z.infer<S> {
  const result = schema.safeParse(query);
  if (!result.success) throw fromZodError(result.error);
  return result.data;
}
