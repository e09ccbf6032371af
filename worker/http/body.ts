/**
 * Request bodies, read with a hard byte limit (streamed, so a huge body is refused without being
 * buffered) and parsed against a zod schema into the one error envelope.
 */
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

export async function readBody(request: Request, limit: number): Promise<string> {
  const declared = Number(request.headers.get("Content-Length") ?? NaN);
  if (!request.body) return "";
  const reader = request.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > limit) {
      await reader.cancel();
      throw new BodyTooLarge(limit, text + decoder.decode(value.subarray(0, Math.max(0, value.byteLength - (bytes - limit)))));
    }
    text += decoder.decode(value, { stream: true });
    if (Number.isFinite(declared) && declared > limit) {
      await reader.cancel();
      throw new BodyTooLarge(limit, text);
    }
  }
  return text + decoder.decode();
}

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
