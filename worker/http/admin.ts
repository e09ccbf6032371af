/**
 * The admin API (`/admin/api/*`, DESIGN.md §3). Every route authenticates a bearer token and works
 * inside the token's workspace; writes need `admin` (sites) or `editor`, reads `viewer`. Routes are
 * declared with their zod schemas (worker/http/openapi.ts), which generate the OpenAPI document.
 */
import { and, asc, desc, eq, gt, gte, lte } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { adminAuth, requireRole } from "../admin/auth";
import { verifyChain } from "../consent/ledger";
import { PURPOSES } from "../consent/purposes";
import type { AppContext } from "../env";
import { idsOfKey, profileKey } from "../identity/keys";
import { viewProfile } from "../profile/profiles";
import { consentLedger, cookielessCounts, events, failedEvents, sites } from "../store/schema";
import { profileKeysByEmail } from "../store/profile-search";
import { createSite, IDENTITY_VERIFICATION, listSites, publicSite, rotateIdentitySecret, updateSite } from "../store/sites";
import { destinationRoutes } from "./destinations";
import { segmentExportRoutes } from "./segment-export";
import { privacyRoutes } from "./privacy";
import { reportRoutes } from "./reports";
import { ApiError } from "./errors";
import { experienceRoutes } from "./experiences";
import { importRoutes } from "./imports";
import { adminRoute, adminRouter, IdParams, jsonBody, jsonResponse, securitySchemes, z } from "./openapi";
import { predictionRoutes } from "./predictions";
import { segmentRoutes } from "./segments";

export const admin = adminRouter();
admin.openAPIRegistry.registerComponent("securitySchemes", "bearer", securitySchemes.bearer);
admin.use("*", adminAuth);
admin.route("/segments", segmentExportRoutes);
admin.route("/segments", segmentRoutes);
admin.route("/destinations", destinationRoutes);
admin.route("/experiences", experienceRoutes);
admin.route("/predictions", predictionRoutes);
admin.route("/privacy", privacyRoutes);
admin.route("/", reportRoutes);
admin.route("/", importRoutes);

const origin = z
  .string()
  .max(255)
  .regex(/^https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be an origin like https://shop.example or https://*.example.com")
  .openapi({ example: "https://shop.example" });
const cookieDomain = z
  .string()
  .max(253)
  .regex(/^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, "must be a domain like example.com");
const consentDefaults = z.partialRecord(z.enum(PURPOSES), z.boolean());
const identityVerification = z.enum(IDENTITY_VERIFICATION).openapi({
  description: "`required` (the default): a browser's userId counts only with a valid `userHash`; `off`: browser userIds are trusted.",
});

export const newSiteSchema = z
  .object({
    name: z.string().trim().min(1).max(120),
    origins: z.array(origin).min(1, "a site needs at least one allowed origin").max(50),
    cookieDomain: cookieDomain.nullish(),
    consentDefaults: consentDefaults.nullish(),
    purposes: z.array(z.enum(PURPOSES)).max(3).optional(),
    policyVersion: z.string().trim().min(1).max(32).optional(),
    retentionDays: z.number().int().min(1).max(3650).optional(),
    identityVerification: identityVerification.optional(),
  });
export const siteChangesSchema = newSiteSchema.partial().extend({ enabled: z.boolean().optional() });

/** A site as the admin API shows it: never a secret (those are shown once, when made). */
export const SiteView = z
  .object({
    id: z.string(),
    workspaceId: z.string(),
    name: z.string(),
    writeKey: z.string().openapi({ description: "Public: the browser tag's key, accepted only from `origins`." }),
    origins: z.array(z.string()),
    cookieDomain: z.string().nullable(),
    consentDefaults: consentDefaults.nullable(),
    purposes: z.array(z.enum(PURPOSES)),
    policyVersion: z.string(),
    retentionDays: z.number().int(),
    identityVerification,
    enabled: z.boolean(),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Site");
const CreatedSite = SiteView.extend({
  secretKey: z.string().openapi({ description: "The server key (`sk_…`), shown once." }),
  identitySecret: z.string().openapi({ description: "The key of `userHash` (`idsec_…`), shown once." }),
}).openapi("CreatedSite");
const IdentitySecret = z.object({ id: z.string(), identitySecret: z.string().openapi({ description: "The new secret (`idsec_…`), shown once; the old one stops working." }) });

const tags = { sites: ["Sites"], profiles: ["Profiles"], events: ["Events"], consent: ["Consent"], reports: ["Reports"] };

admin.openapi(
  adminRoute({
    method: "post",
    path: "/sites",
    role: "admin",
    tags: tags.sites,
    summary: "Create a site",
    description: "Its secret key and identity secret are in this answer only.",
    request: { body: jsonBody(newSiteSchema) },
    responses: { 201: jsonResponse(CreatedSite, "The site, with its two secrets") },
  }),
  async (c) => {
    const { site, secretKey, identitySecret } = await createSite(c.env, c.get("admin").ws, c.req.valid("json"));
    return c.json({ ...publicSite(site), secretKey, identitySecret } satisfies z.input<typeof CreatedSite>, 201);
  },
);

admin.openapi(
  adminRoute({ method: "get", path: "/sites", role: "viewer", tags: tags.sites, summary: "List the workspace's sites", responses: { 200: jsonResponse(z.object({ sites: z.array(SiteView) }), "The sites, oldest first") } }),
  async (c) => {
    const all = await listSites(c.env.DB, c.get("admin").ws);
    return c.json({ sites: all.map(publicSite) } satisfies { sites: z.input<typeof SiteView>[] }, 200);
  },
);

admin.openapi(
  adminRoute({
    method: "patch",
    path: "/sites/{id}",
    role: "admin",
    tags: tags.sites,
    summary: "Change or disable a site",
    description: "Reaches every isolate within 30 s.",
    request: { params: IdParams, body: jsonBody(siteChangesSchema) },
    responses: { 200: jsonResponse(SiteView, "The site as changed") },
  }),
  async (c) => {
    const changes = c.req.valid("json");
    if (Object.keys(changes).length === 0) throw new ApiError(400, "invalid_request", "Send at least one field to change.", { path: "body" });
    const { id } = c.req.valid("param");
    const site = await updateSite(c.env.DB, c.get("admin").ws, id, changes);
    if (!site) throw new ApiError(404, "not_found", `No site ${id} in this workspace.`);
    return c.json(publicSite(site) satisfies z.input<typeof SiteView>, 200);
  },
);

admin.openapi(
  adminRoute({
    method: "post",
    path: "/sites/{id}/identity-secret",
    role: "admin",
    tags: tags.sites,
    summary: "Rotate a site's identity secret",
    description: "A new secret replaces the old one at once: userHashes made with the old one stop verifying.",
    request: { params: IdParams },
    responses: { 200: jsonResponse(IdentitySecret, "The new secret, shown once") },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const identitySecret = await rotateIdentitySecret(c.env, c.get("admin").ws, id);
    if (!identitySecret) throw new ApiError(404, "not_found", `No site ${id} in this workspace.`);
    c.header("Cache-Control", "no-store");
    return c.json({ id, identitySecret } satisfies z.input<typeof IdentitySecret>, 200);
  },
);

const subjectId = z.string().min(1).max(255);
export const lookupSchema = z
  .object({ userId: subjectId.optional(), anonymousId: subjectId.optional() })
  .refine((q) => Boolean(q.userId) !== Boolean(q.anonymousId), { message: "pass exactly one of userId or anonymousId", path: ["userId"] });

const CampaignTouch = z.object({ messageId: z.string(), at: z.number(), source: z.string().optional(), medium: z.string().optional(), name: z.string().optional() });
/** A profile as the admin API and the visitor's own `/v1/me` show it (worker/profile/contract.ts). */
export const ProfileView = z
  .object({
    key: z.string().openapi({ example: "demo:user:ada" }),
    identities: z.array(z.object({ kind: z.string(), value: z.string() })),
    traits: z.record(z.string(), z.unknown()),
    counters: z.record(z.string(), z.number()),
    firstSeen: z.string().nullable().openapi({ format: "date-time", description: "null until an event was applied (a profile that holds only a consent)" }),
    lastSeen: z.string().nullable().openapi({ format: "date-time" }),
    campaigns: z.object({ first: CampaignTouch.optional(), last: CampaignTouch.optional(), touches: z.array(CampaignTouch) }),
    segments: z.array(z.string()).openapi({ description: "Ids of the segments the profile is in now." }),
    device: z
      .object({
        type: z.string().optional(),
        manufacturer: z.string().optional(),
        model: z.string().optional(),
        os: z.object({ name: z.string().optional(), version: z.string().optional() }).optional(),
        app: z.object({ name: z.string().optional(), version: z.string().optional(), build: z.string().optional(), namespace: z.string().optional() }).optional(),
        browser: z.object({ name: z.string().optional(), version: z.string().optional() }).optional(),
      })
      .nullable()
      .openapi({ description: "The device of the newest event that named one (context.device, os, app; a browser's from its user agent)." }),
    consent: z.object({ purposes: z.record(z.string(), z.boolean()), sources: z.record(z.string(), z.string()), at: z.number(), policyVersion: z.string() }).nullable(),
    recentEvents: z.array(z.object({ messageId: z.string(), type: z.string(), timestamp: z.string() })),
    predictions: z
      .record(z.string(), z.object({ score: z.number(), percentile: z.number().int(), scoredAt: z.string().openapi({ format: "date-time" }) }))
      .openapi({ description: "Scores of the live predictions by id (README: Predictions); empty without personalisation consent." }),
  })
  .openapi("Profile");

admin.openapi(
  adminRoute({
    method: "get",
    path: "/profiles/lookup",
    role: "viewer",
    tags: tags.profiles,
    summary: "A profile by userId or anonymousId",
    request: { query: lookupSchema },
    responses: { 200: jsonResponse(ProfileView, "The profile the id leads to (after merges)") },
  }),
  async (c) => {
    const key = profileKey(c.get("admin").ws, c.req.valid("query"))!;
    const profile = await viewProfile(c.env.PROFILES, key);
    if (!profile) throw new ApiError(404, "not_found", `No profile ${key}.`);
    return c.json(profile satisfies z.input<typeof ProfileView>, 200);
  },
);

const ProfileMatch = z.object({ key: z.string(), userId: z.string().optional(), anonymousId: z.string().optional() });

admin.openapi(
  adminRoute({
    method: "get",
    path: "/profiles/search",
    role: "viewer",
    tags: tags.profiles,
    summary: "Profiles whose identify calls gave this email trait",
    description: "Matched trimmed and case-insensitively, most recently identified first; look each up by its userId or anonymousId.",
    request: { query: z.object({ email: z.string().trim().min(3).max(320) }) },
    responses: { 200: jsonResponse(z.object({ profiles: z.array(ProfileMatch) }), "Up to 20 profiles") },
  }),
  async (c) => {
    const keys = await profileKeysByEmail(c.env.DB, c.get("admin").ws, c.req.valid("query").email);
    return c.json({ profiles: keys.map((key) => ({ key, ...idsOfKey(key) })) } satisfies { profiles: z.input<typeof ProfileMatch>[] }, 200);
  },
);

export const listSchema = z.object({
  siteId: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const eventsQuery = listSchema.extend({
  since: z.iso.datetime({ error: "a date-time like 2026-12-01T10:00:00Z" }).optional().openapi({ description: "Only events received after this instant (poll with the newest `receivedAt` seen, less a margin: the archive is written in queue batches)." }),
  type: z.enum(["track", "page", "screen", "identify", "group", "alias"]).optional(),
  name: z.string().min(1).max(255).optional().openapi({ description: "The track event's or page's name, exactly." }),
});

/** Rows of the token's workspace, and of one site when the query names it. */
const inScope = (table: typeof events | typeof failedEvents, ws: string, siteId?: string) =>
  and(eq(table.workspaceId, ws), siteId ? eq(table.siteId, siteId) : undefined);

const nullableString = z.string().nullable();
const ArchivedEvent = z
  .object({
    workspaceId: z.string(),
    messageId: z.string(),
    siteId: z.string(),
    type: z.string(),
    name: nullableString,
    profileKey: nullableString,
    userId: nullableString,
    anonymousId: nullableString,
    bot: z.boolean(),
    timestamp: z.string().openapi({ format: "date-time" }),
    receivedAt: z.string().openapi({ format: "date-time" }),
    event: z.record(z.string(), z.unknown()).openapi({ description: "The normalised, enriched event as archived." }),
  })
  .openapi("ArchivedEvent");

/** The newest archived events of the workspace (what the queue consumer wrote to D1). */
admin.openapi(
  adminRoute({
    method: "get",
    path: "/events",
    role: "viewer",
    tags: tags.events,
    summary: "The newest archived events",
    request: { query: eventsQuery },
    responses: { 200: jsonResponse(z.object({ events: z.array(ArchivedEvent) }), "Newest first") },
  }),
  async (c) => {
    const { siteId, limit, since, type, name } = c.req.valid("query");
    const filters = and(inScope(events, c.get("admin").ws, siteId), since ? gt(events.receivedAt, new Date(since)) : undefined, type ? eq(events.type, type) : undefined, name ? eq(events.name, name) : undefined);
    const rows = await drizzle(c.env.DB).select().from(events).where(filters).orderBy(desc(events.receivedAt)).limit(limit);
    const list = rows.map(({ payload, timestamp, receivedAt, ...row }) => ({ ...row, timestamp: timestamp.toISOString(), receivedAt: receivedAt.toISOString(), event: JSON.parse(payload) as Record<string, unknown> }));
    return c.json({ events: list } satisfies { events: z.input<typeof ArchivedEvent>[] }, 200);
  },
);

const FailedEvent = z
  .object({
    id: z.string(),
    siteId: z.string(),
    workspaceId: z.string(),
    receivedAt: z.string().openapi({ format: "date-time" }),
    code: z.string(),
    message: z.string(),
    path: nullableString,
    batchIndex: z.number().int().nullable(),
    messageId: nullableString,
    payload: z.string().openapi({ description: "The event as received (truncated past 32 KB)." }),
  })
  .openapi("FailedEvent");

/** The newest refused events of the workspace, with the reason each was refused. */
admin.openapi(
  adminRoute({
    method: "get",
    path: "/failed-events",
    role: "viewer",
    tags: tags.events,
    summary: "The newest refused events, with reasons",
    request: { query: listSchema },
    responses: { 200: jsonResponse(z.object({ failedEvents: z.array(FailedEvent) }), "Newest first") },
  }),
  async (c) => {
    const { siteId, limit } = c.req.valid("query");
    const rows = await drizzle(c.env.DB).select().from(failedEvents).where(inScope(failedEvents, c.get("admin").ws, siteId)).orderBy(desc(failedEvents.receivedAt)).limit(limit);
    const list = rows.map(({ receivedAt, ...row }) => ({ ...row, receivedAt: receivedAt.toISOString() }));
    return c.json({ failedEvents: list } satisfies { failedEvents: z.input<typeof FailedEvent>[] }, 200);
  },
);

export const siteQuery = z.object({ siteId: z.string().min(1).max(64) });

/** The site of the token's workspace, or 404. */
async function ownSite(c: AppContext, siteId: string) {
  const [site] = await drizzle(c.env.DB).select({ id: sites.id }).from(sites).where(and(eq(sites.id, siteId), eq(sites.workspaceId, c.get("admin").ws))).limit(1);
  if (!site) throw new ApiError(404, "not_found", `No site ${siteId} in this workspace.`);
  return site;
}

const ledgerRows = (db: D1Database, siteId: string) =>
  drizzle(db).select().from(consentLedger).where(eq(consentLedger.siteId, siteId)).orderBy(asc(consentLedger.seq));

const LedgerEntry = z
  .object({
    seq: z.number().int(),
    id: z.string(),
    siteId: z.string(),
    workspaceId: z.string(),
    subject: z.string().nullable().openapi({ description: "A one-way pseudonym of the profile key." }),
    at: z.string().openapi({ format: "date-time" }),
    signals: z.unknown().openapi({ description: "The signals the choice was resolved from." }),
    consent: z.unknown().openapi({ description: "The resolved purposes and their sources." }),
    policyVersion: z.string(),
    prevHash: z.string(),
    hash: z.string(),
  })
  .openapi("LedgerEntry");

/** The consent ledger of a site, oldest first, as stored (hashes included so anyone can re-check). */
admin.openapi(
  adminRoute({
    method: "get",
    path: "/consent/ledger",
    role: "viewer",
    tags: tags.consent,
    summary: "A site's consent ledger",
    request: { query: siteQuery },
    responses: { 200: jsonResponse(z.object({ entries: z.array(LedgerEntry) }), "Oldest first, hashes included") },
  }),
  async (c) => {
    const { siteId } = c.req.valid("query");
    await ownSite(c, siteId);
    const rows = await ledgerRows(c.env.DB, siteId);
    const entries = rows.map((row) => ({ ...row, at: row.at.toISOString(), signals: JSON.parse(row.signals) as unknown, consent: JSON.parse(row.consent) as unknown }));
    return c.json({ entries } satisfies { entries: z.input<typeof LedgerEntry>[] }, 200);
  },
);

const ChainCheck = z
  .object({
    valid: z.boolean(),
    entries: z.number().int(),
    brokenAt: z.string().optional().openapi({ description: "The first entry that does not follow from the one before it." }),
    reason: z.string().optional(),
  })
  .openapi("ChainCheck");

/** Re-computes the ledger's hash chain: `{valid, entries, brokenAt?, reason?}`. */
admin.openapi(
  adminRoute({
    method: "get",
    path: "/consent/ledger/verify",
    role: "viewer",
    tags: tags.consent,
    summary: "Check the ledger's hash chain",
    request: { query: siteQuery },
    responses: { 200: jsonResponse(ChainCheck, "Whether every entry follows from the one before it") },
  }),
  async (c) => {
    const { siteId } = c.req.valid("query");
    await ownSite(c, siteId);
    const rows = await ledgerRows(c.env.DB, siteId);
    const check = await verifyChain(rows.map((row) => ({ ...row, at: row.at.getTime() })));
    return c.json(check satisfies z.input<typeof ChainCheck>, 200);
  },
);

export const countsQuery = siteQuery.extend({
  from: z.iso.date().optional(),
  to: z.iso.date().optional(),
});
const CookielessCount = z.object({ day: z.string().openapi({ format: "date" }), type: z.string(), name: z.string(), count: z.number().int() });

/** Cookieless visitors' anonymous counts, per day, type and event name. */
admin.openapi(
  adminRoute({
    method: "get",
    path: "/reports/cookieless",
    role: "viewer",
    tags: tags.reports,
    summary: "Anonymous counts of cookieless visitors",
    request: { query: countsQuery },
    responses: { 200: jsonResponse(z.object({ counts: z.array(CookielessCount) }), "Per day, type and event name") },
  }),
  async (c) => {
    const { siteId, from, to } = c.req.valid("query");
    await ownSite(c, siteId);
    const rows = await drizzle(c.env.DB)
      .select({ day: cookielessCounts.day, type: cookielessCounts.type, name: cookielessCounts.name, count: cookielessCounts.count })
      .from(cookielessCounts)
      .where(and(eq(cookielessCounts.siteId, siteId), from ? gte(cookielessCounts.day, from) : undefined, to ? lte(cookielessCounts.day, to) : undefined))
      .orderBy(asc(cookielessCounts.day), asc(cookielessCounts.type), asc(cookielessCounts.name));
    return c.json({ counts: rows } satisfies { counts: z.input<typeof CookielessCount>[] }, 200);
  },
);
