/**
 * The Segment-compatible collection API (DESIGN.md §3): `/v1/{track,page,screen,identify,group,
 * alias,batch}` and their one-letter forms, the settings document for analytics.js, and `/v1/me`,
 * the visitor's own profile. Parse, authenticate, call `ingest`, shape the answer.
 */
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { failedMessage, ingest, ledgerMessage, sitePolicy } from "../collect/ingest";
import { MAX_BATCH_BYTES, MAX_EVENT_BYTES, parseBatch, parseJson, parseSingle, type ParsedEvents } from "../collect/parse";
import { contextSchema, EVENT_TYPES, SHORT_TYPES, type EventType } from "../collect/schema";
import { demoEnabled, type AppContext, type AppEnv } from "../env";
import { COOKIE_NAME, newVisitorId, signVisitorId, verifyVisitorCookie, visitorCookieHeader } from "../identity/cookie";
import { mayProfile, PURPOSES } from "../consent/purposes";
import { combineExplicit, CONSENT_COOKIE, decodeConsentCookie, encodeConsentCookie, resolveConsent, type ConsentSignals } from "../consent/resolve";
import { COOKIE_MAX_AGE } from "../identity/cookie";
import { profileKey, type ProfileKey } from "../identity/keys";
import { decideFor, parseSlots, requestContext } from "../decisions/serve";
import { enqueue, forgetMessage, membershipMessages } from "../pipeline/messages";
import { applyToProfile, viewProfile } from "../profile/profiles";
import { liveSegments } from "../store/segments";
import { findSiteByKey, isSecretKey, originAllowed, type Site } from "../store/sites";
import { z } from "zod";
import { BodyTooLarge, jsonBody, readBody } from "./body";
import { ApiError } from "./errors";
import { limitByIp, limitBySite } from "./ratelimit";

export const collect = new Hono<AppEnv>();

/**
 * CORS: the tag posts `text/plain` (a simple request, no preflight); SDKs that send JSON or Basic
 * auth get a preflight answer. The actual request is checked against the site's origins before
 * anything is read or written, so reflecting the Origin (with credentials, for the cookie) exposes
 * nothing a foreign page could use.
 */
collect.use("*", async (c, next) => {
  const origin = c.req.header("Origin");
  if (c.req.method === "OPTIONS") {
    return c.body(null, 204, {
      "Access-Control-Allow-Origin": origin ?? "*",
      "Access-Control-Allow-Credentials": "true",
      "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
      "Access-Control-Allow-Headers": c.req.header("Access-Control-Request-Headers") ?? "Content-Type, Authorization",
      "Access-Control-Max-Age": "86400",
      Vary: "Origin",
    });
  }
  await next();
  if (origin) {
    c.res.headers.set("Access-Control-Allow-Origin", origin);
    c.res.headers.set("Access-Control-Allow-Credentials", "true");
    c.res.headers.append("Vary", "Origin");
  }
});

collect.use("*", limitByIp);

/** The key in `Authorization: Basic base64(key:)`, as Segment's SDKs send it. */
function basicAuthKey(c: AppContext): string | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(c.req.header("Authorization") ?? "");
  if (!match) return undefined;
  try {
    return atob(match[1]!).split(":")[0] || undefined;
  } catch {
    throw new ApiError(401, "invalid_write_key", "The Authorization header is not valid Basic auth.");
  }
}

/** Finds the site and checks that this request may write to it. */
async function authenticate(c: AppContext, key: string | undefined): Promise<{ site: Site; source: "browser" | "server" }> {
  if (!key) throw new ApiError(401, "missing_write_key", "Send the write key as Basic auth (`key:`) or a `writeKey` field.", { path: "writeKey" });
  const site = await findSiteByKey(c.env.DB, key);
  if (!site) throw new ApiError(401, "invalid_write_key", "No site has this write key.", { path: "writeKey" });
  if (!site.enabled) throw new ApiError(403, "site_disabled", `Site ${site.id} is disabled; it accepts no events.`);
  await limitBySite(c, site.id);
  if (isSecretKey(key)) return { site, source: "server" };
  const origin = c.req.header("Origin");
  if (!origin || !originAllowed(origin, site.origins)) {
    throw new ApiError(
      403,
      "origin_not_allowed",
      origin
        ? `Origin ${origin} is not allowed for this write key; add it to the site's origins.`
        : "A write key is accepted only from a browser on one of the site's origins; servers use the secret key.",
    );
  }
  return { site, source: "browser" };
}

/** The consent signals a browser request carries outside its events. */
function requestConsent(c: AppContext) {
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
async function setIdentityCookies(
  c: AppContext,
  site: Site,
  result: { visitorId?: string; clearCookie: boolean; signals: ConsentSignals },
): Promise<void> {
  const options = { secure: secureCookie(c.req.url), domain: cookieDomainFor(site, c.req.url) };
  if (result.visitorId) {
    c.header("Set-Cookie", visitorCookieHeader(await signVisitorId(result.visitorId, c.env.COOKIE_SECRET), options), { append: true });
  } else if (result.clearCookie) {
    c.header("Set-Cookie", visitorCookieHeader("", { ...options, maxAge: 0 }), { append: true });
  }
  const explicit = result.signals.explicit;
  if (explicit && encodeConsentCookie(explicit) !== getCookie(c, CONSENT_COOKIE)) {
    c.header("Set-Cookie", visitorCookieHeader(encodeConsentCookie(explicit), { ...options, name: CONSENT_COOKIE, maxAge: COOKIE_MAX_AGE }), { append: true });
  }
}

/** Records a request-level refusal as a failed event, then refuses the request. */
async function refuse(c: AppContext, site: Site | undefined, error: ApiError, payload: unknown): Promise<never> {
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

function handler(kind: EventType | "batch") {
  return async (c: AppContext) => {
    const receivedAt = new Date();
    const headerKey = basicAuthKey(c);
    const headerSite = headerKey ? await findSiteByKey(c.env.DB, headerKey) : undefined;

    let text: string;
    try {
      text = await readBody(c.req.raw, kind === "batch" ? MAX_BATCH_BYTES : MAX_EVENT_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        if (headerKey) await authenticate(c, headerKey);
        return refuse(c, headerSite, error, error.head);
      }
      throw error;
    }
    let body: unknown;
    try {
      body = parseJson(text);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (headerKey) await authenticate(c, headerKey);
      return refuse(c, headerSite, error, text);
    }
    const bodyKey = typeof body === "object" && body !== null ? (body as { writeKey?: unknown }).writeKey : undefined;
    const { site, source } = await authenticate(c, headerKey ?? (typeof bodyKey === "string" ? bodyKey : undefined));

    let parsed: ParsedEvents;
    try {
      parsed = kind === "batch" ? parseBatch(body) : parseSingle(body, kind);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return refuse(c, site, error, body);
    }

    const slots = parseSlots(c.req.query("decide"), "decide");
    const cookieId = source === "browser" ? await verifyVisitorCookie(getCookie(c, COOKIE_NAME), c.env.COOKIE_SECRET) : undefined;
    const result = await ingest(c.env, {
      site,
      source,
      parsed,
      visitorId: cookieId,
      newVisitorId,
      edge: { userAgent: c.req.header("User-Agent"), cf: c.req.raw.cf as Record<string, unknown> | undefined },
      consent: requestConsent(c),
      segments: await liveSegments(c.env.DB, site.workspaceId),
      receivedAt,
    });

    if (parsed.single && result.rejected.length > 0) {
      const [rejection] = result.rejected;
      throw new ApiError(rejection!.code === "event_too_large" ? 413 : 400, rejection!.code, rejection!.message, { path: rejection!.path });
    }
    if (result.accepted === 0) {
      throw new ApiError(400, "invalid_batch", `All ${result.rejected.length} events of the batch were rejected.`, {
        path: "batch",
        extra: { rejected: result.rejected.map(({ payload: _payload, ...r }) => r) },
      });
    }
    await setIdentityCookies(c, site, result);
    const answer = { success: true, accepted: result.accepted, rejected: result.rejected.map(({ payload: _payload, ...r }) => r) };
    if (slots.length === 0) return c.json(answer);
    // Decisions reflect the events just applied: the same profile, right after them.
    const decided = await decideFor(c.env, { site, slots, context: result.context, key: result.profile?.key });
    if (decided.messages.length > 0) await enqueue(c.env.EVENTS, decided.messages);
    return c.json({ ...answer, decisions: decided.decisions });
  };
}

collect.post("/batch", handler("batch"));
collect.post("/b", handler("batch"));
for (const type of EVENT_TYPES) collect.post(`/${type}`, handler(type));
for (const [short, type] of Object.entries(SHORT_TYPES)) collect.post(`/${short}`, handler(type));

/**
 * The settings document analytics.js fetches from its CDN, served by Cohort so a page can load
 * analytics.js with `cdnURL` pointed here and send everything to Cohort.
 */
collect.get("/projects/:writeKey/settings", async (c) => {
  const writeKey = c.req.param("writeKey");
  const site = await findSiteByKey(c.env.DB, writeKey);
  if (!site || isSecretKey(writeKey) || !site.enabled) throw new ApiError(404, "unknown_write_key", "No enabled site has this write key.");
  const { host, protocol } = new URL(c.req.url);
  c.header("Cache-Control", "public, max-age=300");
  return c.json({
    integrations: {
      "Segment.io": { apiKey: writeKey, apiHost: `${host}/v1`, protocol: protocol.replace(":", ""), unbundledIntegrations: [], addBundledMetadata: false },
    },
    plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { enabled: true } }, group: { __default: { enabled: true } } },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  });
});

/**
 * `GET /v1/me?writeKey=…` (demo mode only): the visitor's own profile, found by their cookie, for
 * the demo's live panel. A foreign page cannot read it: a cross-origin request carries an Origin,
 * which must be one of the site's.
 */
collect.get("/me", async (c) => {
  // A browser's userId is a claim anyone can make: a profile reachable through it is not shown to
  // the browser outside the local demo.
  if (!demoEnabled(c.env)) throw new ApiError(404, "not_found", "/v1/me is available in demo mode only.");
  const key = c.req.query("writeKey");
  if (!key || isSecretKey(key)) throw new ApiError(400, "missing_write_key", "Pass the site's write key as ?writeKey=.", { path: "writeKey" });
  const site = await findSiteByKey(c.env.DB, key);
  if (!site) throw new ApiError(401, "invalid_write_key", "No site has this write key.", { path: "writeKey" });
  const origin = c.req.header("Origin");
  if (origin && !originAllowed(origin, site.origins)) throw new ApiError(403, "origin_not_allowed", `Origin ${origin} is not allowed for this write key.`);
  c.header("Cache-Control", "no-store");
  const visitorId = await verifyVisitorCookie(getCookie(c, COOKIE_NAME), c.env.COOKIE_SECRET);
  if (!visitorId) return c.json({ profile: null });
  return c.json({ profile: await viewProfile(c.env.PROFILES, profileKey(site.workspaceId, { anonymousId: visitorId })!) });
});

export const consentSchema = z.object({
  writeKey: z.string().max(255).optional(),
  purposes: z.partialRecord(z.enum(PURPOSES), z.boolean()).optional(),
  tcString: z.string().max(8192).optional(),
  gppString: z.string().max(8192).optional(),
  gpc: z.boolean().optional(),
});

/**
 * `POST /v1/consent`: the visitor's choice (or their CMP's new TC/GPP string). Answers with the
 * resolved purposes, sets or clears the visitor cookie accordingly, remembers an explicit choice,
 * and appends the change to the consent ledger. Withdrawing both analytics and personalisation
 * erases the profile's data at once.
 */
collect.post("/consent", async (c) => {
  const body = await jsonBody(c.req.raw, consentSchema, MAX_EVENT_BYTES);
  const { site, source } = await authenticate(c, basicAuthKey(c) ?? body.writeKey);
  if (source !== "browser") throw new ApiError(400, "browser_only", "Consent is a browser's choice: call /v1/consent with the write key from the page.");
  const base = requestConsent(c);
  const now = Date.now();
  const signals: ConsentSignals = {
    explicit: combineExplicit(decodeConsentCookie(base.consentCookie), body.purposes ? { purposes: body.purposes, at: now } : undefined),
    tcString: body.tcString,
    gppString: body.gppString,
    gpc: body.gpc === true || base.secGpc?.trim() === "1",
    country: base.country,
  };
  const policy = sitePolicy(site);
  let visitorId = await verifyVisitorCookie(getCookie(c, COOKIE_NAME), c.env.COOKIE_SECRET);
  let consent = resolveConsent(policy, signals, now);
  if (!visitorId && mayProfile(consent)) visitorId = newVisitorId();
  let subject: string | null = null;
  let changed = Boolean(body.purposes);
  if (visitorId) {
    const result = await applyToProfile(c.env.PROFILES, {
      key: profileKey(site.workspaceId, { anonymousId: visitorId })!,
      events: [],
      signals,
      policy,
      retentionDays: site.retentionDays,
      segments: await liveSegments(c.env.DB, site.workspaceId),
      siteId: site.id,
    });
    consent = result.consent;
    const messages = membershipMessages(result.key, site.id, result.membershipChanges);
    if (result.forgotten) messages.push(forgetMessage(result.key, true));
    if (messages.length > 0) await enqueue(c.env.EVENTS, messages);
    subject = result.key;
    changed ||= result.consentChanged;
    if (result.erased) visitorId = undefined;
  }
  if (changed) await enqueue(c.env.EVENTS, [ledgerMessage(site, subject, signals, consent)]);
  const keep = mayProfile(consent) && visitorId !== undefined;
  await setIdentityCookies(c, site, {
    visitorId: keep ? visitorId : undefined,
    clearCookie: !keep && Boolean(getCookie(c, COOKIE_NAME)),
    signals,
  });
  c.header("Cache-Control", "no-store");
  return c.json({ consent: { purposes: consent.purposes, sources: consent.sources, policyVersion: consent.policyVersion } });
});

export const decideSchema = z.object({
  writeKey: z.string().max(255).optional(),
  slots: z.array(z.string()).min(1, "name at least one slot").max(20),
  context: contextSchema.optional(),
  userId: z.string().min(1).max(255).optional(),
  anonymousId: z.string().min(1).max(255).optional(),
});

/**
 * `POST /v1/decide {slots, context?}`: what each slot shows for this visitor. A browser is its
 * cookie; a server names the visitor by `userId` or `anonymousId` with its secret key.
 */
collect.post("/decide", async (c) => {
  const body = await jsonBody(c.req.raw, decideSchema, MAX_EVENT_BYTES);
  const { site, source } = await authenticate(c, basicAuthKey(c) ?? body.writeKey);
  const slots = parseSlots(body.slots, "slots");
  const edge = { userAgent: source === "browser" ? c.req.header("User-Agent") : undefined, cf: source === "browser" ? (c.req.raw.cf as Record<string, unknown> | undefined) : undefined };
  let key: ProfileKey | undefined;
  if (source === "browser") {
    const visitorId = await verifyVisitorCookie(getCookie(c, COOKIE_NAME), c.env.COOKIE_SECRET);
    key = visitorId ? profileKey(site.workspaceId, { anonymousId: visitorId }) : undefined;
  } else {
    key = profileKey(site.workspaceId, { userId: body.userId, anonymousId: body.anonymousId });
    if (!key) throw new ApiError(400, "missing_identity", "A server names the visitor by userId or anonymousId.", { path: "userId" });
  }
  const decided = await decideFor(c.env, { site, slots, context: requestContext(body.context, edge), key });
  if (decided.messages.length > 0) await enqueue(c.env.EVENTS, decided.messages);
  c.header("Cache-Control", "no-store");
  return c.json({ decisions: decided.decisions });
});
