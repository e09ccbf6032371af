/**
 * What every collection-side route needs of a request: its key and site (with the origin and rate
 * checks), its consent signals, and the identity cookies of its answer.
 */
import { getCookie } from "hono/cookie";
import { failedMessage, type Source } from "../flows/ingest";
import { CONSENT_COOKIE, encodeConsentCookie, type ConsentSignals } from "../consent/resolve";
import type { AppContext } from "../env";
import { COOKIE_MAX_AGE, signVisitorId, visitorCookieHeader } from "../identity/cookie";
import { enqueue } from "../pipeline/messages";
import { findSiteByKey, isSecretKey, originAllowed, type Site } from "../store/sites";
import { ApiError } from "./errors";
import { limitBySite } from "./ratelimit";

/** The key in `Authorization: Basic base64(key:)`, as Segment's SDKs send it. */
export function basicAuthKey(c: AppContext): string | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(c.req.header("Authorization") ?? "");
  if (!match) return undefined;
  try {
    return atob(match[1]!).split(":")[0] || undefined;
  } catch {
    throw new ApiError(401, "invalid_write_key", "The Authorization header is not valid Basic auth.");
  }
}

/**
 * Finds the site and checks that this request may write to it. A write key is refused only with an
 * `Origin` that is not one of the site's: a browser always sends its page's origin on a POST, so a
 * page elsewhere cannot use the key; a request without one is an app (Segment's mobile SDKs) or a
 * script, which could send any Origin it liked, so it gets exactly a browser's trust.
 */
export async function authenticate(c: AppContext, key: string | undefined): Promise<{ site: Site; source: Source }> {
  if (!key) throw new ApiError(401, "missing_write_key", "Send the write key as Basic auth (`key:`) or a `writeKey` field.", { path: "writeKey" });
  const site = await findSiteByKey(c.env.DB, key);
  if (!site) throw new ApiError(401, "invalid_write_key", "No site has this write key.", { path: "writeKey" });
  if (!site.enabled) throw new ApiError(403, "site_disabled", `Site ${site.id} is disabled; it accepts no events.`);
  await limitBySite(c, site.id);
  if (isSecretKey(key)) return { site, source: "server" };
  const origin = c.req.header("Origin");
  if (origin !== undefined && !originAllowed(origin, site.origins)) {
    throw new ApiError(403, "origin_not_allowed", `Origin ${origin} is not allowed for this write key; add it to the site's origins.`);
  }
  return { site, source: "browser" };
}

/**
 * The site of a public write key, for the SDK configuration documents (which hold nothing secret):
 * a secret key, an unknown key or a disabled site is 404, as if there were no such source.
 */
export async function sdkSite(c: AppContext, writeKey: string | undefined): Promise<Site> {
  const site = writeKey ? await findSiteByKey(c.env.DB, writeKey) : undefined;
  if (!writeKey || !site || isSecretKey(writeKey) || !site.enabled) throw new ApiError(404, "unknown_write_key", "No enabled site has this write key.", { path: "writeKey" });
  return site;
}

/** The consent signals a browser request carries outside its events. */
export function requestConsent(c: AppContext) {
  return {
    consentCookie: getCookie(c, CONSENT_COOKIE),
    secGpc: c.req.header("Sec-GPC"),
    country: (c.req.raw.cf as { country?: string } | undefined)?.country,
  };
}

/**
 * Sets (or clears) `cohort_id` by the visitor's consent, and remembers an explicit choice in the
 * non-identifying `cohort_consent` cookie.
 */
export async function setIdentityCookies(
  c: AppContext,
  site: Site,
  result: { visitorId?: string; clearCookie: boolean; signals: ConsentSignals },
): Promise<void> {
  const options = { secure: secureCookie(c.req.url), domain: cookieDomainFor(site, c.req.url) };
  if (result.visitorId) {
    c.header("Set-Cookie", visitorCookieHeader(await signVisitorId(result.visitorId, c.env.COOKIE_SECRET, site.workspaceId), options), { append: true });
  } else if (result.clearCookie) {
    c.header("Set-Cookie", visitorCookieHeader("", { ...options, maxAge: 0 }), { append: true });
  }
  const explicit = result.signals.explicit;
  if (explicit && encodeConsentCookie(explicit) !== getCookie(c, CONSENT_COOKIE)) {
    c.header("Set-Cookie", visitorCookieHeader(encodeConsentCookie(explicit), { ...options, name: CONSENT_COOKIE, maxAge: COOKIE_MAX_AGE }), { append: true });
  }
}

/** Records a request-level refusal as a failed event, then refuses the request. */
export async function refuse(c: AppContext, site: Site | undefined, error: ApiError, payload: unknown): Promise<never> {
  if (site) {
    await enqueue(c.env.EVENTS, [failedMessage(site, { index: null, code: error.code, message: error.message, path: error.path ?? "", payload }, new Date())]);
  }
  throw error;
}

const secureCookie = (url: string) => {
  const { protocol, hostname } = new URL(url);
  return protocol === "https:" || !(hostname === "localhost" || hostname === "127.0.0.1" || hostname === "[::1]");
};

/** The Domain attribute only when the request's host is inside the site's cookie domain. */
const cookieDomainFor = (site: Site, url: string) => {
  const domain = site.cookieDomain?.replace(/^\./, "");
  const host = new URL(url).hostname;
  return domain && (host === domain || host.endsWith(`.${domain}`)) ? domain : undefined;
};

