/**
 * Enrichment at the edge: what Cohort can tell about an event from the request itself.
 * Standard Segment context fields are filled only when the sender left them empty:
 * `context.userAgent`, `context.os`, `context.device.type`, `context.campaign` (from the page URL's
 * utm_ parameters and click ids), `context.location` (from Cloudflare's `request.cf`), and
 * `context.referrer` (`{url, host, type}`). Cohort adds `context.browser` and `context.bot`.
 * The IP address is used for geolocation by Cloudflare and never stored: `context.ip` is dropped.
 */
import { isbot } from "isbot";
import UAParser from "ua-parser-js";
import type { CollectedEvent, Context } from "./normalise";

export interface EdgeRequest {
  /** The User-Agent header, used only for browser (write key) requests. */
  userAgent?: string;
  cf?: Partial<Record<"country" | "region" | "regionCode" | "city" | "continent" | "timezone" | "postalCode", unknown>>;
}

export type ReferrerType = "direct" | "internal" | "search" | "social" | "email" | "paid" | "referral";

const SEARCH = /(^|\.)(google|bing|duckduckgo|yahoo|baidu|yandex|ecosia|qwant|startpage|naver|seznam|brave)\./;
const SOCIAL = /(^|\.)(facebook|fb|instagram|twitter|x|t|linkedin|lnkd|reddit|pinterest|tiktok|youtube|threads|bsky|mastodon|whatsapp|telegram)\.(com|co|net|social|app|me|in|org)$/;
const EMAIL = /(^|\.)(mail\.google|outlook\.live|mail\.yahoo|mail\.proton|webmail|mail)\./;
const PAID_MEDIUM = /^(cpc|ppc|paid|paidsearch|paid_search|paid-social|paid_social|display|cpm|retargeting)$/i;
const CLICK_IDS = ["gclid", "gbraid", "wbraid", "fbclid", "msclkid", "ttclid", "li_fat_id", "twclid"];
const UTM: Record<string, string> = {
  utm_source: "source",
  utm_medium: "medium",
  utm_campaign: "name",
  utm_term: "term",
  utm_content: "content",
};

function parseUrl(value: unknown): URL | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** utm_* parameters and ad click ids of a landing page URL, in Segment's `context.campaign` shape. */
export function campaignFromUrl(url: URL | undefined): Record<string, string> | undefined {
  if (!url) return undefined;
  const campaign: Record<string, string> = {};
  for (const [param, field] of Object.entries(UTM)) {
    const value = url.searchParams.get(param);
    if (value) campaign[field] = value.slice(0, 255);
  }
  for (const param of CLICK_IDS) {
    const value = url.searchParams.get(param);
    if (value) campaign[param] = value.slice(0, 255);
  }
  return Object.keys(campaign).length > 0 ? campaign : undefined;
}

/** Classifies where a visit came from. `campaign` is the sender's: any JSON may be in it. */
export function classifyReferrer(referrer: URL | undefined, page: URL | undefined, campaign?: Record<string, unknown>): ReferrerType {
  const medium = typeof campaign?.medium === "string" ? campaign.medium : "";
  if (campaign && (PAID_MEDIUM.test(medium) || CLICK_IDS.some((id) => id in campaign))) return "paid";
  if (medium.toLowerCase() === "email") return "email";
  if (!referrer) return "direct";
  const host = referrer.hostname.toLowerCase();
  if (page && host === page.hostname.toLowerCase()) return "internal";
  if (EMAIL.test(host)) return "email";
  if (SEARCH.test(host)) return "search";
  if (SOCIAL.test(host)) return "social";
  return "referral";
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** What the edge adds, without the fields it could not tell (undefined, null or ""). */
function clean<T extends Record<string, unknown>>(value: T): Partial<T> | undefined {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return entries.length > 0 ? (Object.fromEntries(entries) as Partial<T>) : undefined;
}

/**
 * `sent` with `added` filled in where the sender left a field out. A sender's value of any JSON type
 * is kept as it is; a sender's non-object is kept whole (nothing is added to it).
 */
function fill(sent: unknown, added: Record<string, unknown>): unknown {
  if (sent !== undefined && !isObject(sent)) return sent;
  const base = sent ?? {};
  const missing = clean(Object.fromEntries(Object.entries(added).filter(([k]) => base[k] === undefined)));
  if (!missing) return sent;
  return { ...base, ...missing };
}

/**
 * Adds what the edge knows to an event's context, never overwriting what the sender set: every
 * field of `context` may hold any JSON, and is stored as sent (except `ip`, dropped, and `bot`,
 * which only Cohort sets).
 */
export function enrich(event: CollectedEvent, edge: EdgeRequest): CollectedEvent & { context: Context & { bot: boolean } } {
  const context: Record<string, unknown> = { ...event.context };
  delete context.ip;

  const userAgent = typeof context.userAgent === "string" && context.userAgent !== "" ? context.userAgent : edge.userAgent;
  let bot = false;
  if (userAgent) {
    if (typeof context.userAgent !== "string" || context.userAgent === "") context.userAgent = userAgent;
    bot = isbot(userAgent);
    const ua = new UAParser(userAgent).getResult();
    const browser = clean({ name: ua.browser.name, version: ua.browser.version });
    if (context.browser === undefined && browser) context.browser = browser;
    const os = clean({ name: ua.os.name, version: ua.os.version });
    if (context.os === undefined && os) context.os = os;
    const device = fill(context.device, { type: bot ? "bot" : (ua.device.type ?? "desktop"), manufacturer: ua.device.vendor, model: ua.device.model });
    if (device !== undefined) context.device = device;
  }

  const page = isObject(context.page) ? context.page : {};
  const pageUrl = parseUrl(page.url);
  const campaign = context.campaign === undefined ? campaignFromUrl(pageUrl) : isObject(context.campaign) ? context.campaign : undefined;
  if (campaign && context.campaign === undefined) context.campaign = campaign;
  const referrerUrl = parseUrl(page.referrer);
  if (pageUrl || referrerUrl) {
    const referrer = fill(context.referrer, { url: referrerUrl?.href, host: referrerUrl?.hostname, type: classifyReferrer(referrerUrl, pageUrl, campaign) });
    if (referrer !== undefined) context.referrer = referrer;
  }

  if (edge.cf && context.location === undefined) {
    const cf = edge.cf;
    const location = clean({
      country: cf.country,
      region: cf.region,
      regionCode: cf.regionCode,
      city: cf.city,
      continent: cf.continent,
      timezone: cf.timezone,
    });
    if (location) context.location = location;
  }

  context.bot = bot;
  return { ...event, context: context as Context & { bot: boolean } };
}
