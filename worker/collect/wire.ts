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

/** Consent signals the tag read in the page (Segment's `context.consent`, plus GPC). */
export interface WireConsentSignals {
  /** IAB TCF v2.2 TC string, from `__tcfapi('addEventListener', 2, …)`. */
  tcString?: string;
  /** IAB GPP string, from `__gpp('addEventListener', …)` / `__gpp('ping')`. */
  gppString?: string;
  /** `navigator.globalPrivacyControl === true`. */
  gpc?: boolean;
  /**
   * Google Consent Mode v2: the last value of each type in the page's `gtag('consent', …)`
   * commands on `dataLayer`, once the page has sent an `update` (a `default` alone is no answer).
   */
  googleConsentMode?: Partial<Record<"ad_storage" | "analytics_storage" | "ad_user_data" | "ad_personalization", "granted" | "denied">>;
}

export type WirePurpose = "analytics" | "personalization" | "advertising";

export interface WireContext {
  page: WirePage;
  consent?: WireConsentSignals;
  library: { name: "cohort-tag"; version: string };
  locale?: string;
  screen?: { width: number; height: number };
  timezone?: string;
  /** Proof of the userId: `hex(HMAC-SHA256(identitySecret, userId))`, computed by the site's server. */
  identity?: { userHash: string };
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

/**
 * `POST /v1/consent`, sent by `cohort('consent', {...})` and whenever the page's CMP reports a new
 * TC or GPP string. Same transport as batches (text/plain, credentials included).
 */
export interface WireConsentRequest extends WireConsentSignals {
  writeKey: string;
  /** An explicit choice; purposes left out keep their previous state. */
  purposes?: Partial<Record<WirePurpose, boolean>>;
}

/** Where each purpose's answer came from, strongest first. */
export type WireConsentSource = "explicit" | "tcf" | "gpp" | "gpc" | "consentMode" | "region" | "default" | "site";

/** The answer to `/v1/consent`: the visitor's resolved purposes (the cookie is set or cleared with it). */
export interface WireConsentResponse {
  consent: {
    purposes: Record<WirePurpose | "necessary", boolean>;
    sources: Record<WirePurpose, WireConsentSource>;
    policyVersion: string;
  };
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

/* ── Decisions (DESIGN.md §3 "Decisions") ─────────────────────────────────────────────────── */

/**
 * What fills a slot, already rendered by the Worker for this visitor:
 * - `text`: plain text, set as the element's text (never parsed as HTML);
 * - `html`: an admin-authored template whose visitor values were HTML-escaped by the Worker,
 *   set as the element's inner HTML;
 * - `attributes`: attribute names and values to set (never `on*` handlers or `javascript:` URLs);
 * - `json`: any data, for custom rendering with `cohort('decide', [slots], callback)`; fills nothing.
 */
export type WireContent =
  | { text: string }
  | { html: string }
  | { attributes: Record<string, string> }
  | { json: unknown };

/** One slot's decision: which experience and variant, and what to show. */
export interface WireDecision {
  /** The experience id. */
  experience: string;
  /** The variant id. */
  variant: string;
  content: WireContent;
}

/** Decisions by slot name. A slot with no decision (no match, holdout) is absent. */
export type WireDecisions = Record<string, WireDecision>;

/**
 * `POST /v1/decide`. The tag sends `{writeKey, slots}` (text/plain, credentials included: the
 * browser is the `cohort_id` cookie). A server source authenticates with its secret key and names
 * the visitor by `userId` or `anonymousId`; `context` is a Segment context (page, campaign, …)
 * for contextual audiences.
 */
export interface WireDecideRequest {
  writeKey?: string;
  slots: string[];
  context?: Record<string, unknown>;
  userId?: string;
  anonymousId?: string;
}

/** The answer to `POST /v1/decide`. */
export interface WireDecideResponse {
  decisions: WireDecisions;
}

/**
 * The answer to a collection request made with `?decide=slot1,slot2` (the tag adds it to the
 * first batch of a page with slots): the usual answer plus decisions that reflect the events of
 * this very request.
 */
export interface WireDecidingResponse extends WireResponse {
  decisions: WireDecisions;
}
