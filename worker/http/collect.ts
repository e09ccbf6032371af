/**
 * The Segment-compatible collection API (DESIGN.md §3): `/v1/{track,page,screen,identify,group,
 * alias,batch}` and their one-letter forms, the settings document for analytics.js, `/v1/me` (demo),
 * and the consent and decide routes (their own modules). Parse, authenticate, call `ingest`, shape
 * the answer.
 */
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { cors } from "hono/cors";
import { isbot } from "isbot";
import { z } from "zod";
import { ingest } from "../flows/ingest";
import { MAX_BATCH_BYTES, MAX_EVENT_BYTES, parseBatch, parseJson, parseSingle, type ParsedEvents } from "../collect/parse";
import { EVENT_TYPES, SHORT_TYPES, type EventType } from "../collect/schema";
import { decideFor, parseSlots } from "../flows/decide";
import { demoEnabled, type AppContext, type AppEnv } from "../env";
import { COOKIE_NAME, newVisitorId, verifyVisitorCookie } from "../identity/cookie";
import { profileKey } from "../identity/keys";
import { viewProfile } from "../profile/profiles";
import { listSegmentRows } from "../store/segments";
import { liveDefinitions } from "../store/definitions";
import { userHash } from "../identity/verify";
import { ensureIdentitySecret, findSiteByKey, identityPolicy, isSecretKey, originAllowed } from "../store/sites";
import { BodyTooLarge, jsonBody, readBody } from "./body";
import { consentRoute } from "./consent";
import { decideRoute } from "./decide";
import { ApiError } from "./errors";
import { limitByIp, limitEvents } from "./ratelimit";
import { authenticate, basicAuthKey, refuse, requestConsent, setIdentityCookies } from "./request";
import type { WireDecidingResponse, WireResponse } from "../collect/wire";

export const collect = new Hono<AppEnv>();

const demoHashSchema = z.object({ writeKey: z.string().max(255), userId: z.string().min(1).max(255) });

/**
 * CORS: the tag posts `text/plain` (a simple request, no preflight); SDKs that send JSON or Basic
 * auth get a preflight answer (the headers they ask for, for a day). The actual request is checked
 * against the site's origins before anything is read or written, so reflecting the Origin (with
 * credentials, for the cookie) exposes nothing a foreign page could use.
 */
collect.use(
  "*",
  cors({
    origin: (origin) => origin || null,
    credentials: true,
    allowMethods: ["GET", "POST", "OPTIONS"],
    maxAge: 86_400,
  }),
);

collect.use("*", limitByIp);

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

    await limitEvents(c, site.id, parsed.events.length + parsed.rejected.length, source);
    const slots = parseSlots(c.req.query("decide"), "decide");
    const cookieId = source === "browser" ? await verifyVisitorCookie(getCookie(c, COOKIE_NAME), c.env.COOKIE_SECRET, site.workspaceId) : undefined;
    const result = await ingest(c.env, {
      site,
      source,
      parsed,
      visitorId: cookieId,
      newVisitorId,
      edge: { userAgent: c.req.header("User-Agent"), cf: c.req.raw.cf as Record<string, unknown> | undefined },
      consent: requestConsent(c),
      identity: source === "browser" ? await identityPolicy(c.env, site) : undefined,
      definitions: await liveDefinitions(c.env.DB, site.workspaceId),
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
    const answer = { success: true, accepted: result.accepted, rejected: result.rejected.map(({ payload: _payload, ...r }) => r) } satisfies WireResponse;
    if (slots.length === 0) return c.json(answer);
    // Decisions reflect the events just applied: the same profile, right after them.
    const decided = await decideFor(c.env, { site, slots, context: result.context, key: result.profile?.key });
    return c.json({ ...answer, decisions: decided.decisions } satisfies WireDecidingResponse);
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
/** The demo's site for a demo-only route: its write key, from one of its own origins. */
async function demoSite(c: AppContext, key: unknown, route: string) {
  if (!demoEnabled(c.env)) throw new ApiError(404, "not_found", `${route} is available in demo mode only.`);
  if (typeof key !== "string" || !key || isSecretKey(key)) throw new ApiError(400, "missing_write_key", "Pass the site's write key as writeKey.", { path: "writeKey" });
  const site = await findSiteByKey(c.env.DB, key);
  if (!site) throw new ApiError(401, "invalid_write_key", "No site has this write key.", { path: "writeKey" });
  const origin = c.req.header("Origin");
  if (origin && !originAllowed(origin, site.origins)) throw new ApiError(403, "origin_not_allowed", `Origin ${origin} is not allowed for this write key.`);
  return site;
}

collect.get("/me", async (c) => {
  // A browser's userId is a claim anyone can make: a profile reachable through it is not shown to
  // the browser outside the local demo.
  const site = await demoSite(c, c.req.query("writeKey"), "/v1/me");
  c.header("Cache-Control", "no-store");
  // What the demo panel tells its visitor besides the profile: whether Cohort takes this browser
  // for a bot (counted, never profiled), and the names of the segments the profile is in.
  const bot = isbot(c.req.header("User-Agent") ?? "");
  const visitorId = await verifyVisitorCookie(getCookie(c, COOKIE_NAME), c.env.COOKIE_SECRET, site.workspaceId);
  if (!visitorId) return c.json({ profile: null, bot, segmentNames: {} });
  const profile = await viewProfile(c.env.PROFILES, profileKey(site.workspaceId, { anonymousId: visitorId })!);
  const inSegments = new Set(profile?.segments ?? []);
  const named = inSegments.size ? (await listSegmentRows(c.env.DB, site.workspaceId)).filter((s) => inSegments.has(s.id)) : [];
  return c.json({ profile, bot, segmentNames: Object.fromEntries(named.map((s) => [s.id, s.name])) });
});

/**
 * `POST /v1/demo/user-hash {writeKey, userId}` (demo mode only): the `userHash` the demo shop's
 * "server" gives its signed-in visitor. On a real site this is the site's own server's job (README
 * "Verified identity"): the identity secret never reaches a browser, and no deployed Cohort answers here.
 */
collect.post("/demo/user-hash", async (c) => {
  if (!demoEnabled(c.env)) throw new ApiError(404, "not_found", "/v1/demo/user-hash is available in demo mode only.");
  const body = await jsonBody(c.req.raw, demoHashSchema, MAX_EVENT_BYTES);
  const site = await demoSite(c, body.writeKey, "/v1/demo/user-hash");
  c.header("Cache-Control", "no-store");
  return c.json({ userHash: await userHash(await ensureIdentitySecret(c.env, site), body.userId) });
});

collect.post("/consent", consentRoute);
collect.post("/decide", decideRoute);
