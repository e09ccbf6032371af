/**
 * The edge HTML path (DESIGN.md §1): with `EDGE_ORIGIN` set, the Worker sits on a route in front
 * of the site's origin. Requests that are not Cohort's own are fetched from the origin; an HTML
 * answer is personalised (its `[data-cohort-slot]` elements decided and filled, the tag injected,
 * the response marked private) by `personalise`, which serves the origin's page unchanged on any
 * error or a slow decision. Everything else passes through untouched, streamed.
 *
 * What reaches the origin (README "Trust model"), whatever the request looks like:
 * - only `EDGE_ORIGIN`'s scheme, host and port: the request's path and query are copied onto that
 *   URL as data (`url.pathname = …`), never resolved against it, so `//other-host/x`, `/\other-host`,
 *   their percent-encoded forms and absolute-form targets (`GET http://other/ HTTP/1.1`) all stay
 *   on the origin (as the path `//other-host/x`); a target that would leave it is refused (502);
 * - the request headers of `FORWARDED_HEADERS` only, minus any the request's `Connection` header
 *   names (hop-by-hop headers never pass: the list has none), plus `X-Forwarded-For/-Host/-Proto`;
 * - the visitor's cookies for the site except Cohort's own (`cohort_id`, `cohort_consent`): the
 *   browser sent them to the site's host, which the origin serves, so they are the site's session
 *   and cart; Cohort's identifiers are not the origin's business;
 * - no redirect is followed (`redirect: "manual"`): a 3xx goes back to the browser as it came.
 */
import { getCookie } from "hono/cookie";
import { CONSENT_COOKIE } from "../consent/resolve";
import { decideFor, requestContext } from "../flows/decide";
import { personalise } from "../decisions/rewrite";
import type { AppContext } from "../env";
import { COOKIE_NAME, verifyVisitorCookie } from "../identity/cookie";
import { profileKey } from "../identity/keys";
import { findEdgeSite } from "../store/sites";
import { ApiError } from "./errors";

export const edgeEnabled = (env: Env) => Boolean(env.EDGE_ORIGIN);

/** How long the page may wait for decisions before it is served unpersonalised. */
const DECIDE_TIMEOUT_MS = 50;

/** End-to-end request headers a page or form needs from its origin. */
export const FORWARDED_HEADERS = [
  "accept",
  "accept-encoding",
  "accept-language",
  "authorization",
  "cache-control",
  "content-type",
  "cookie",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "origin",
  "pragma",
  "range",
  "referer",
  "user-agent",
] as const;

/** Cookies that are Cohort's, never sent on to the origin. */
const OWN_COOKIES = new Set([COOKIE_NAME, CONSENT_COOKIE]);

/** The origin URL for a request URL: `EDGE_ORIGIN`'s origin with the request's path and query. */
export function originUrl(requestUrl: string, edgeOrigin: string): URL {
  const request = new URL(requestUrl);
  const origin = new URL(edgeOrigin);
  const target = new URL(origin.origin);
  // Setters take the path as a path: `//host` cannot become an authority here.
  target.pathname = request.pathname;
  target.search = request.search;
  if (target.origin !== origin.origin) throw new ApiError(502, "bad_origin_target", "The request cannot be served from the site's origin.");
  return target;
}

/** The headers sent to the origin for a request's headers (see the module's header). */
export function originHeaders(incoming: Headers, requestUrl: string): Headers {
  const named = new Set(
    (incoming.get("connection") ?? "")
      .split(",")
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
  );
  const headers = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = incoming.get(name);
    if (value === null || named.has(name)) continue;
    if (name === "cookie") {
      const kept = value
        .split(";")
        .map((pair) => pair.trim())
        .filter((pair) => pair && !OWN_COOKIES.has(pair.split("=", 1)[0]!.trim()));
      if (kept.length > 0) headers.set("cookie", kept.join("; "));
    } else headers.set(name, value);
  }
  const url = new URL(requestUrl);
  const ip = incoming.get("cf-connecting-ip");
  if (ip) headers.set("x-forwarded-for", ip);
  headers.set("x-forwarded-host", url.host);
  headers.set("x-forwarded-proto", url.protocol.replace(":", ""));
  return headers;
}

export async function serveFromOrigin(c: AppContext): Promise<Response> {
  const url = new URL(c.req.url);
  const target = originUrl(c.req.url, c.env.EDGE_ORIGIN);
  const upstream = await fetch(target, {
    method: c.req.method,
    headers: originHeaders(c.req.raw.headers, c.req.url),
    body: c.req.method === "GET" || c.req.method === "HEAD" ? undefined : c.req.raw.body,
    redirect: "manual",
  });
  if (c.req.method !== "GET") return upstream;
  const site = await findEdgeSite(c.env.DB, c.env.EDGE_SITE_ID || undefined, url.origin).catch(() => undefined);
  if (!site) return upstream;
  return personalise(upstream, {
    timeoutMs: DECIDE_TIMEOUT_MS,
    tag: { writeKey: site.writeKey },
    decideSlots: async (slots) => {
      const started = Date.now();
      const visitorId = await verifyVisitorCookie(getCookie(c, COOKIE_NAME), c.env.COOKIE_SECRET, site.workspaceId);
      const context = requestContext(
        { page: { url: url.href, path: url.pathname, search: url.search, referrer: c.req.header("Referer") ?? "" } },
        { userAgent: c.req.header("User-Agent"), cf: c.req.raw.cf as Record<string, unknown> | undefined },
      );
      const key = visitorId ? profileKey(site.workspaceId, { anonymousId: visitorId }) : undefined;
      const decided = await decideFor(c.env, { site, slots, context, key, record: false });
      // An exposure is recorded only for content that is served: past the timeout the page goes
      // out unpersonalised and nothing is recorded (the variant stays the same next time: bucketing is stable).
      if (decided.record && Date.now() - started < DECIDE_TIMEOUT_MS) c.executionCtx.waitUntil(decided.record());
      return decided.decisions;
    },
  });
}
