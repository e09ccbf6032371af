/**
 * The admin API (`/admin/api/*`, DESIGN.md §3). Every route authenticates a bearer token and works
 * inside the token's workspace; writes need `admin` (sites) or `editor`, reads `viewer`.
 */
import { and, desc, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { Hono } from "hono";
import { z } from "zod";
import { adminAuth, requireRole } from "../admin/auth";
import type { AppEnv } from "../env";
import { profileKey } from "../identity/keys";
import { viewProfile } from "../profile/profiles";
import { events, failedEvents } from "../store/schema";
import { createSite, listSites, publicSite, updateSite } from "../store/sites";
import { jsonBody } from "./body";
import { ApiError, fromZodError } from "./errors";

export const admin = new Hono<AppEnv>();
admin.use("*", adminAuth);

const origin = z
  .string()
  .max(255)
  .regex(/^https?:\/\/(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be an origin like https://shop.example or https://*.example.com");
const cookieDomain = z
  .string()
  .max(253)
  .regex(/^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/, "must be a domain like example.com");
const consentDefaults = z.record(z.enum(["analytics", "personalization", "advertising"]), z.boolean());

const newSiteSchema = z.object({
  name: z.string().trim().min(1).max(120),
  origins: z.array(origin).min(1, "a site needs at least one allowed origin").max(50),
  cookieDomain: cookieDomain.nullish(),
  consentDefaults: consentDefaults.nullish(),
});
const siteChangesSchema = newSiteSchema.partial().extend({ enabled: z.boolean().optional() });

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
  const site = await updateSite(c.env.DB, c.get("admin").ws, c.req.param("id"), changes);
  if (!site) throw new ApiError(404, "not_found", `No site ${c.req.param("id")} in this workspace.`);
  return c.json(publicSite(site));
});

const lookupSchema = z
  .object({ userId: z.string().min(1).max(255).optional(), anonymousId: z.string().min(1).max(255).optional() })
  .refine((q) => Boolean(q.userId) !== Boolean(q.anonymousId), { message: "pass exactly one of userId or anonymousId", path: ["userId"] });

admin.get("/profiles/lookup", requireRole("viewer"), async (c) => {
  const query = lookupSchema.safeParse(c.req.query());
  if (!query.success) throw fromZodError(query.error);
  const key = profileKey(c.get("admin").ws, query.data)!;
  const profile = await viewProfile(c.env.PROFILES, key);
  if (!profile) throw new ApiError(404, "not_found", `No profile ${key}.`);
  return c.json(profile);
});

const listSchema = z.object({
  siteId: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** The newest archived events of the workspace (what the queue consumer wrote to D1). */
admin.get("/events", requireRole("viewer"), async (c) => {
  const query = listSchema.safeParse(c.req.query());
  if (!query.success) throw fromZodError(query.error);
  const { siteId, limit } = query.data;
  const ws = c.get("admin").ws;
  const rows = await drizzle(c.env.DB)
    .select()
    .from(events)
    .where(siteId ? and(eq(events.workspaceId, ws), eq(events.siteId, siteId)) : eq(events.workspaceId, ws))
    .orderBy(desc(events.receivedAt))
    .limit(limit);
  return c.json({ events: rows.map(({ payload, ...row }) => ({ ...row, event: JSON.parse(payload) })) });
});

/** The newest refused events of the workspace, with the reason each was refused. */
admin.get("/failed-events", requireRole("viewer"), async (c) => {
  const query = listSchema.safeParse(c.req.query());
  if (!query.success) throw fromZodError(query.error);
  const { siteId, limit } = query.data;
  const ws = c.get("admin").ws;
  const rows = await drizzle(c.env.DB)
    .select()
    .from(failedEvents)
    .where(siteId ? and(eq(failedEvents.workspaceId, ws), eq(failedEvents.siteId, siteId)) : eq(failedEvents.workspaceId, ws))
    .orderBy(desc(failedEvents.receivedAt))
    .limit(limit);
  return c.json({ failedEvents: rows });
});
