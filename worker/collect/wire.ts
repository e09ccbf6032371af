/**
 * The wire format between the browser tag and the Worker, imported by both sides
 * (`tag/src` uses the types only, so nothing here reaches the tag's bundle).
 *
 * The tag speaks a subset of Segment's HTTP Tracking API: it posts `/v1/batch` with a
 * `text/plain` body (no CORS preflight, works with `sendBeacon`) and never sends an
 * `anonymousId`: the browser is identified by the signed, HttpOnly `cohort_id` cookie that the
 * Worker sets on its response.
 */

/** What the tag knows about the page an event happened on (Segment's `context.page`). */
export interface WirePage {
  url: string;
  path: string;
  title: string;
  referrer: string;
  search: string;
}

export interface WireContext {
  page: WirePage;
  library: { name: "cohort-tag"; version: string };
  locale?: string;
  screen?: { width: number; height: number };
  timezone?: string;
}

interface WireBase {
  messageId: string;
  /** ISO-8601 time at which the event happened in the browser. */
  timestamp: string;
  userId?: string;
  context: WireContext;
}

export type WireEvent =
  | (WireBase & { type: "page"; name?: string; properties: Record<string, unknown> })
  | (WireBase & { type: "track"; event: string; properties: Record<string, unknown> })
  | (WireBase & { type: "identify"; userId: string; traits: Record<string, unknown> });

/** The body of `POST /v1/batch` as the tag sends it. */
export interface WireBatch {
  writeKey: string;
  sentAt: string;
  batch: WireEvent[];
}

/** One event the Worker refused, by its index in the batch. */
export interface WireRejection {
  index: number;
  code: string;
  message: string;
  path: string;
}

/** The Worker's answer to a collection request. */
export interface WireResponse {
  success: true;
  accepted: number;
  rejected: WireRejection[];
}

/** The shape of every error response: `{"error":{"code","message","path"}}`. */
export interface WireError {
  error: { code: string; message: string; path?: string };
  rejected?: WireRejection[];
}
