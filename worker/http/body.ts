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

/** A body whose `Content-Encoding` Cohort cannot decode, or whose compressed bytes are corrupt. */
export class BodyNotDecodable extends ApiError {
  override name = "BodyNotDecodable";
  constructor(status: 400 | 415, code: string, message: string, cause?: unknown) {
    super(status, code, message, { cause });
  }
}

/** The `Content-Encoding`s a body may arrive in (what Segment's and RudderStack's server SDKs send). */
type Format = ConstructorParameters<typeof DecompressionStream>[0];
const ENCODINGS: Record<string, Format> = { gzip: "gzip", "x-gzip": "gzip", deflate: "deflate" };

/**
 * Compressed bytes handed to the decompressor at a time. Deflate inflates at most about 1,032:1, so
 * one step yields about a megabyte at most: a gzip bomb is stopped within a step of the limit,
 * never inflated whole into memory.
 */
export const INFLATE_STEP = 1024;

/**
 * The body as text, or `BodyTooLarge` past `limit` bytes (declared or streamed, chunked or not). A
 * body sent with `Content-Encoding: gzip` (or `deflate`) is decompressed as it streams in, and the
 * limit applies to the decompressed bytes.
 */
export async function readBody(request: Request, limit: number): Promise<string> {
  if (!request.body) return "";
  const encoding = (request.headers.get("Content-Encoding") ?? "").trim().toLowerCase();
  if (encoding === "" || encoding === "identity") {
    try {
      return await readText(request.body.getReader(), limit, Number(request.headers.get("Content-Length") ?? NaN));
    } catch (error) {
      if (error instanceof BodyTooLarge) throw error;
      // The client went away mid-body: nothing usable arrived.
      throw new ApiError(400, "invalid_body", "The request body could not be read to its end.", { cause: error });
    }
  }
  const format = ENCODINGS[encoding];
  const reader = request.body.getReader();
  if (!format) {
    await drain(reader, 0).catch(() => undefined);
    throw new BodyNotDecodable(415, "unsupported_encoding", `Content-Encoding ${encoding} is not supported; send the body as it is, or gzip or deflate it.`);
  }
  return readCompressed(reader, format, limit);
}

/** Reads text from `reader`, at most `limit` bytes (a `declared` length past it is refused at once). */
async function readText(reader: ReadableStreamDefaultReader<Uint8Array>, limit: number, declared = NaN, onTooLarge = (read: number) => drain(reader, read)): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > limit) {
      const head = text + decoder.decode(value.subarray(0, Math.max(0, value.byteLength - (bytes - limit))));
      await onTooLarge(bytes);
      throw new BodyTooLarge(limit, head);
    }
    text += decoder.decode(value, { stream: true });
    if (Number.isFinite(declared) && declared > limit) {
      await onTooLarge(bytes);
      throw new BodyTooLarge(limit, text);
    }
  }
  return text + decoder.decode();
}

/**
 * Inflates `raw` through a `DecompressionStream`, fed `INFLATE_STEP` bytes at a time, and reads the
 * result with the limit. Once the answer is known (too large, corrupt) the decompressor is
 * dropped and the rest of the compressed body only drained, never inflated.
 */
async function readCompressed(raw: ReadableStreamDefaultReader<Uint8Array>, format: Format, limit: number): Promise<string> {
  const inflate = new DecompressionStream(format);
  const writer = inflate.writable.getWriter();
  const inflated = inflate.readable.getReader();
  let stopped = false;
  let lost: unknown;
  const feed = (async () => {
    let read = 0;
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await raw.read();
      } catch (error) {
        lost = error;
        await writer.abort(error).catch(() => undefined);
        return;
      }
      if (chunk.done) break;
      read += chunk.value.byteLength;
      if (stopped) {
        if (read > DRAIN_MAX) return raw.cancel();
        continue;
      }
      try {
        for (let at = 0; at < chunk.value.byteLength && !stopped; at += INFLATE_STEP) await writer.write(chunk.value.subarray(at, at + INFLATE_STEP));
      } catch {
        stopped = true;
      }
    }
    if (!stopped) await writer.close().catch(() => undefined);
  })();
  const stop = async () => {
    stopped = true;
    await inflated.cancel().catch(() => undefined);
    await feed;
  };
  try {
    const text = await readText(inflated, limit, NaN, stop);
    await feed;
    return text;
  } catch (error) {
    if (error instanceof BodyTooLarge) throw error;
    await stop();
    if (lost !== undefined) throw new ApiError(400, "invalid_body", "The request body could not be read to its end.", { cause: lost });
    throw new BodyNotDecodable(400, "invalid_encoding", `The body is not valid ${format} (Content-Encoding: ${format}): it is corrupt or cut short.`, error);
  }
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
