/**
 * The admin API (`/admin/api/*`, DESIGN.md §3). Every route authenticates a bearer token and works
 * inside the token's workspace; writes need `admin` (sites) or `editor`, reads `viewer`.
 */
import { and, asc, desc, eq, gte, lte } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { z } from "zod";
import { adminAuth, requireRole } from "../admin/auth";
import { PURPOSES } from "../consent/purposes";
import type { AppContext, AppEnv } from "../env";
import { profileKey } from "../identity/keys";
import { viewProfile } from "../profile/profiles";
import { verifyChain } from "../consent/ledger";
import { eraseSubject, exportSubject } from "../privacy/subject";
import { consentLedger, cookielessCounts, events, failedEvents, sites } from "../store/schema";
import { createSite, listSites, publicSite, updateSite } from "../store/sites";
import { jsonBody, queryOf } from "./body";
import { experienceRoutes } from "./experiences";
import { reportRoutes } from "./reports";
import { segmentRoutes } from "./segments";
import { ApiError } from "./errors";

export const admin = new Hono<AppEnv>();
admin.use("*", adminAuth);
admin.route("/segments", segmentRoutes);
admin.route("/experiences", experienceRoutes);
admin.route("/", reportRoutes);

const origin = z
  .string()
  .max(255)
  .regex(/^https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be an origin like https://shop.example or https://*.example.com");
const cookieDomain = z
  .string()
  .max(253)
  .regex(/^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, "must be a domain like example.com");
const consentDefaults = z.partialRecord(z.enum(PURPOSES), z.boolean());

export const newSiteSchema = z.object({
  name: z.string().trim().min(1).max(120),
  origins: z.array(origin).min(1, "a site needs at least one allowed origin").max(50),
  cookieDomain: cookieDomain.nullish(),
  consentDefaults: consentDefaults.nullish(),
  purposes: z.array(z.enum(PURPOSES)).max(3).optional(),
  policyVersion: z.string().trim().min(1).max(32).optional(),
  retentionDays: z.number().int().min(1).max(3650).optional(),
});
export const siteChangesSchema = newSiteSchema.partial().extend({ enabled: z.boolean().optional() });

admin.post("/sites", requireRole("admin"), async (c) => {
  const input = await jsonBody(c.req.raw, newSiteSchema);
  const { site, secretKey } = await createSite(c.env.DB, c.get("admin").ws, input);
  return c.json({ ...publicSite(site), secretKey }, 201);
});

admin.get("/sites", requireRole("viewer"), async (c) => {
  const all = await listSites(c.env.DB, c.get("admin").ws);
  return c.json({ sites: all.map(publicSite) });
});

admin.patch("/sites/:id", requireRole("admin"), async (c) => {
  const changes = await jsonBody(c.req.raw, siteChangesSchema);
  if (Object.keys(changes).length === 0) throw new ApiError(400, "invalid_request", "Send at least one field to change.", { path: "body" });
  const site = await updateSite(c.env.DB, c.get("admin").ws, c.req.param("id"), changes);
  if (!site) throw new ApiError(404, "not_found", `No site ${c.req.param("id")} in this workspace.`);
  return c.json(publicSite(site));
});

export const lookupSchema = z
  .object({ userId: z.string().min(1).max(255).optional(), anonymousId: z.string().min(1).max(255).optional() })
  .refine((q) => Boolean(q.userId) !== Boolean(q.anonymousId), { message: "pass exactly one of userId or anonymousId", path: ["userId"] });

admin.get("/profiles/lookup", requireRole("viewer"), async (c) => {
  const query = queryOf(c.req.query(), lookupSchema);
  const key = profileKey(c.get("admin").ws, query)!;
  const profile = await viewProfile(c.env.PROFILES, key);
  if (!profile) throw new ApiError(404, "not_found", `No profile ${key}.`);
  return c.json(profile);
});

export const listSchema = z.object({
  siteId: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** Rows of the token's workspace, and of one site when the query names it. */
const inScope = (table: typeof events | typeof failedEvents, ws: string, siteId?: string) =>
  and(eq(table.workspaceId, ws), siteId ? eq(table.siteId, siteId) : undefined);

/** The newest archived events of the workspace (what the queue consumer wrote to D1). */
admin.get("/events", requireRole("viewer"), async (c) => {
  const { siteId, limit } = queryOf(c.req.query(), listSchema);
  const rows = await drizzle(c.env.DB).select().from(events).where(inScope(events, c.get("admin").ws, siteId)).orderBy(desc(events.receivedAt)).limit(limit);
  return c.json({ events: rows.map(({ payload, ...row }) => ({ ...row, event: JSON.parse(payload) })) });
});

/** The newest refused events of the workspace, with the reason each was refused. */
admin.get("/failed-events", requireRole("viewer"), async (c) => {
  const { siteId, limit } = queryOf(c.req.query(), listSchema);
  const rows = await drizzle(c.env.DB).select().from(failedEvents).where(inScope(failedEvents, c.get("admin").ws, siteId)).orderBy(desc(failedEvents.receivedAt)).limit(limit);
  return c.json({ failedEvents: rows });
});

export const subjectSchema = z.union([
  z.object({ userId: z.string().min(1).max(255) }).strict(),
  z.object({ anonymousId: z.string().min(1).max(255) }).strict(),
], { error: "send exactly one of userId or anonymousId" });

/** Access request: everything held about a subject, from every store, as one JSON document. */
admin.post("/privacy/export", requireRole("admin"), async (c) => {
  const subject = await jsonBody(c.req.raw, subjectSchema);
  c.header("Cache-Control", "no-store");
  return c.json(await exportSubject(c.env, c.get("admin").ws, subject));
});

/** Erasure request: deletes the subject everywhere and suppresses them against replays. */
admin.post("/privacy/erase", requireRole("admin"), async (c) => {
  const subject = await jsonBody(c.req.raw, subjectSchema);
  return c.json(await eraseSubject(c.env, c.get("admin").ws, subject));
});

export const siteQuery = z.object({ siteId: z.string().min(1).max(64) });

/** The site of the token's workspace, or 404. */
async function ownSite(c: AppContext, siteId: string) {
  const [site] = await drizzle(c.env.DB).select({ id: sites.id }).from(sites).where(and(eq(sites.id, siteId), eq(sites.workspaceId, c.get("admin").ws))).limit(1);
  if (!site) throw new ApiError(404, "not_found", `No site ${siteId} in this workspace.`);
  return site;
}

const ledgerRows = (db: D1Database, siteId: string) =>
  drizzle(db).select().from(consentLedger).where(eq(consentLedger.siteId, siteId)).orderBy(asc(consentLedger.seq));

/** The consent ledger of a site, oldest first, as stored (hashes included so anyone can re-check). */
admin.get("/consent/ledger", requireRole("viewer"), async (c) => {
  const query = queryOf(c.req.query(), siteQuery);
  await ownSite(c, query.siteId);
  const rows = await ledgerRows(c.env.DB, query.siteId);
  return c.json({ entries: rows.map((row) => ({ ...row, at: row.at.toISOString(), signals: JSON.parse(row.signals), consent: JSON.parse(row.consent) })) });
});

/** Re-computes the ledger's hash chain: `{valid, entries, brokenAt?, reason?}`. */
admin.get("/consent/ledger/verify", requireRole("viewer"), async (c) => {
  const query = queryOf(c.req.query(), siteQuery);
  await ownSite(c, query.siteId);
  const rows = await ledgerRows(c.env.DB, query.siteId);
  return c.json(await verifyChain(rows.map((row) => ({ ...row, at: row.at.getTime() }))));
});

export const countsQuery = siteQuery.extend({
  from: z.iso.date().optional(),
  to: z.iso.date().optional(),
});

/** Cookieless visitors' anonymous counts, per day, type and event name. */
admin.get("/reports/cookieless", requireRole("viewer"), async (c) => {
  const query = queryOf(c.req.query(), countsQuery);
  const { siteId, from, to } = query;
  await ownSite(c, siteId);
  const rows = await drizzle(c.env.DB)
    .select({ day: cookielessCounts.day, type: cookielessCounts.type, name: cookielessCounts.name, count: cookielessCounts.count })
    .from(cookielessCounts)
    .where(and(eq(cookielessCounts.siteId, siteId), from ? gte(cookielessCounts.day, from) : undefined, to ? lte(cookielessCounts.day, to) : undefined))
    .orderBy(asc(cookielessCounts.day), asc(cookielessCounts.type), asc(cookielessCounts.name));
  return c.json({ counts: rows });
});
