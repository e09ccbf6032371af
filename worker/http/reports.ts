/**
 * The report routes (DESIGN.md §3 "Measurement — reports"), declared with their zod schemas so the
 * OpenAPI document is generated from what they validate. Mounted at `/admin/api` by admin.ts (auth
 * there); every route needs `viewer` and answers for the token's workspace only. The reports
 * themselves are worker/reports/queries.ts.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { bodyLimit } from "hono/body-limit";
import { requireRole } from "../admin/auth";
import type { AppContext, AppEnv } from "../env";
import { profileKey, profileStub } from "../identity/keys";
import { currentKey } from "../profile/profiles";
import { LOOKBACK_DAYS, MODELS } from "../reports/credit";
import { OVERVIEW_PERIODS, siteOverview, type OverviewPeriod } from "../reports/overview";
import { attributionReport, consentReport, experimentReport, funnelReport, JOURNEY_LIMIT, journeyReport, segmentHistory } from "../reports/queries";
import { durationMs, parseRule } from "../segments/schema";
import { experienceOf, getExperience } from "../store/experiences";
import { sites } from "../store/schema";
import { getSegment } from "../store/segments";
import { ApiError, fromZodError } from "./errors";

export const reportRoutes = new OpenAPIHono<AppEnv>({
  defaultHook: (result) => {
    if (!result.success) throw fromZodError(result.error);
  },
});

const DAY_MS = 86_400_000;
/** The longest range one report covers. */
const MAX_DAYS = 731;

const day = z.iso.date({ error: "a date like 2026-12-01" });
const rangeFields = { from: day.optional(), to: day.optional() };

/** from/to as dates, defaulting to the 30 days up to today; `to` before `from` or too long a range is a 400. */
function rangeOf(q: { from?: string; to?: string }, now = Date.now()): { from: string; to: string } {
  const to = q.to ?? new Date(now).toISOString().slice(0, 10);
  const from = q.from ?? new Date(Date.parse(to) - 29 * DAY_MS).toISOString().slice(0, 10);
  if (from > to) throw new ApiError(400, "invalid_request", "to: must not be before from", { path: "to" });
  if ((Date.parse(to) - Date.parse(from)) / DAY_MS >= MAX_DAYS) throw new ApiError(400, "invalid_request", `to: a report covers at most ${MAX_DAYS} days`, { path: "to" });
  return { from, to };
}

async function ownSite(c: AppContext, siteId: string, path = "siteId") {
  const [site] = await drizzle(c.env.DB).select({ id: sites.id }).from(sites).where(and(eq(sites.id, siteId), eq(sites.workspaceId, c.get("admin").ws))).limit(1);
  if (!site) throw new ApiError(404, "not_found", `No site ${siteId} in this workspace.`, { path });
}

const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string(), path: z.string().optional() }) }).openapi("Error");
const errors = {
  400: { description: "Invalid request; `path` names the field at fault.", content: { "application/json": { schema: errorSchema } } },
  401: { description: "No valid admin token.", content: { "application/json": { schema: errorSchema } } },
  403: { description: "The token's role is below viewer.", content: { "application/json": { schema: errorSchema } } },
  404: { description: "No such site, experience, segment or visitor in this workspace.", content: { "application/json": { schema: errorSchema } } },
} as const;
const ok = <S extends z.ZodType>(schema: S, description: string) => ({ 200: { description, content: { "application/json": { schema } } }, ...errors });

// Attribution.
export const attributionQuery = z.object({
  siteId: z.string().min(1).max(64),
  conversion: z.string().min(1).max(255),
  model: z.enum(MODELS).default("last"),
  lookback: z
    .enum(LOOKBACK_DAYS.map((d) => `${d}d`) as [string, ...string[]], { error: `one of ${LOOKBACK_DAYS.map((d) => `${d}d`).join(", ")}` })
    .default("30d"),
  by: z.enum(["source", "medium", "campaign"]).default("campaign"),
  ...rangeFields,
});
const attributionRow = z.object({ source: z.string().nullable(), medium: z.string().nullable(), campaign: z.string().nullable(), conversions: z.number(), revenue: z.number() });
const attributionAnswer = z.object({
  siteId: z.string(),
  conversion: z.string(),
  model: z.enum(MODELS),
  lookback: z.string(),
  by: z.string(),
  from: z.string(),
  to: z.string(),
  rows: z.array(attributionRow),
  total: z.object({ conversions: z.number(), revenue: z.number() }),
});

reportRoutes.openapi(
  createRoute({
    method: "get",
    path: "/reports/attribution",
    summary: "Campaign attribution: conversions and revenue credited to campaign touches (role: viewer)",
    tags: ["Reports"],
    security: [{ bearer: [] }],
    middleware: [requireRole("viewer")],
    request: { query: attributionQuery },
    responses: ok(attributionAnswer, "Credit per group; rows sum to the total exactly"),
  }),
  async (c) => {
    const q = c.req.valid("query");
    await ownSite(c, q.siteId);
    const range = rangeOf(q);
    return c.json(await attributionReport(c.env.DB, { ...q, ...range, lookbackDays: parseInt(q.lookback, 10) }), 200);
  },
);

// Experiment results.
const arm = { exposed: z.number().int(), converted: z.number().int(), rate: z.number(), revenue: z.number(), revenuePerVisitor: z.number() };
const experimentAnswer = z.object({
  experience: z.object({ id: z.string(), name: z.string(), status: z.string(), holdout: z.number() }),
  goal: z.object({ event: z.string(), where: z.array(z.unknown()).optional() }).nullable(),
  control: z.string(),
  variants: z.array(
    z.object({
      id: z.string(),
      ...arm,
      uplift: z.object({ relative: z.number(), ci95: z.tuple([z.number(), z.number()]) }).nullable(),
      chanceToBeat: z.number().nullable(),
    }),
  ),
  holdout: z.object(arm),
  srm: z.object({ chiSquare: z.number(), pValue: z.number(), flagged: z.boolean() }),
  minimumSample: z.object({ exposedPerArm: z.number(), conversionsPerArm: z.number(), met: z.boolean() }),
  warnings: z.array(z.object({ code: z.string(), message: z.string() })),
});
const idParam = z.object({ id: z.string().min(1).max(100) });

reportRoutes.openapi(
  createRoute({
    method: "get",
    path: "/experiences/{id}/results",
    summary: "Experiment results: per variant and holdout, uplift with its 95% interval, chance to beat, SRM (role: viewer)",
    tags: ["Reports"],
    security: [{ bearer: [] }],
    middleware: [requireRole("viewer")],
    request: { params: idParam, query: z.object(rangeFields) },
    responses: ok(experimentAnswer, "Results by the day of each visitor's first exposure"),
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    const row = await getExperience(c.env.DB, c.get("admin").ws, id);
    if (!row) throw new ApiError(404, "not_found", `No experience ${id} in this workspace.`, { path: "id" });
    const range = q.from || q.to ? rangeOf(q) : {};
    return c.json(await experimentReport(c.env.DB, experienceOf(row), range), 200);
  },
);

// Funnels.
const funnelStep = z.object({ event: z.string().min(1).max(255), where: z.array(z.unknown()).max(20).optional() });
export const funnelInput = z.object({
  siteId: z.string().min(1).max(64),
  steps: z.array(funnelStep).min(2, { error: "a funnel has at least two steps" }).max(10),
  within: z.string().regex(/^\d{1,4}[mhd]$/, { error: "a duration like 30m, 24h or 7d" }).default("7d"),
  from: day,
  to: day,
});
const funnelAnswer = z.object({
  siteId: z.string(),
  from: z.string(),
  to: z.string(),
  steps: z.array(z.object({ event: z.string(), where: z.array(z.unknown()).optional(), visitors: z.number().int(), conversion: z.number(), dropOff: z.number().int() })),
});

reportRoutes.openapi(
  createRoute({
    method: "post",
    path: "/reports/funnel",
    summary: "Funnel: visitors through ordered steps, each within `within` of the first (role: viewer)",
    tags: ["Reports"],
    security: [{ bearer: [] }],
    middleware: [requireRole("viewer"), bodyLimit({ maxSize: 16 * 1024, onError: () => { throw new ApiError(413, "payload_too_large", "The body is larger than 16384 bytes."); } })] as const,
    request: { body: { required: true, content: { "application/json": { schema: funnelInput } } } },
    responses: ok(funnelAnswer, "Visitors reaching each step"),
  }),
  async (c) => {
    const q = c.req.valid("json");
    const steps = q.steps.map((step, i) => {
      if (!step.where) return { event: step.event };
      const parsed = parseRule({ event: step.event, where: step.where });
      if (!parsed.ok) {
        const path = ["steps", i, ...parsed.error.path.split(".").slice(1)].join(".");
        throw new ApiError(400, "invalid_request", `${path}: ${parsed.error.message}`, { path });
      }
      return { event: step.event, where: (parsed.rule as { where?: never }).where };
    });
    await ownSite(c, q.siteId);
    const withinMs = durationMs(q.within);
    if (withinMs > 90 * DAY_MS) throw new ApiError(400, "invalid_request", "within: at most 90 days", { path: "within" });
    const range = rangeOf(q);
    return c.json(await funnelReport(c.env.DB, { siteId: q.siteId, steps, withinMs, ...range }), 200);
  },
);

// Journeys.
export const journeyQuery = z
  .object({
    userId: z.string().min(1).max(255).optional(),
    anonymousId: z.string().min(1).max(255).optional(),
    limit: z.coerce.number().int().min(1).max(JOURNEY_LIMIT).default(200),
  })
  .refine((q) => Boolean(q.userId) !== Boolean(q.anonymousId), { message: "pass exactly one of userId or anonymousId", path: ["userId"] });
const journeyAnswer = z.object({
  profileKey: z.string(),
  touchpoints: z.array(z.object({ at: z.string(), kind: z.string(), name: z.string(), siteId: z.string(), messageId: z.string() }).catchall(z.unknown())),
  truncated: z.boolean(),
});

reportRoutes.openapi(
  createRoute({
    method: "get",
    path: "/profiles/journey",
    summary: "One visitor's touchpoints in time order: campaign touches, pages, segment changes, exposures, conversions (role: viewer)",
    tags: ["Reports"],
    security: [{ bearer: [] }],
    middleware: [requireRole("viewer")],
    request: { query: journeyQuery },
    responses: ok(journeyAnswer, "Oldest first"),
  }),
  async (c) => {
    const q = c.req.valid("query");
    const ws = c.get("admin").ws;
    const named = profileKey(ws, q)!;
    const current = await currentKey(c.env.PROFILES, named);
    // What was merged into the visitor (their browsers before they signed in) is their journey too.
    const merged = await profileStub(c.env.PROFILES, current).mergedFrom();
    const journey = await journeyReport(c.env.DB, ws, [...new Set([current, named, ...merged])], q.limit);
    if (journey.touchpoints.length === 0) throw new ApiError(404, "not_found", `No journey for ${named}.`, { path: q.userId ? "userId" : "anonymousId" });
    return c.json({ profileKey: current, ...journey }, 200);
  },
);

// Segment history.
const historyAnswer = z.array(z.object({ day: z.string(), size: z.number().int(), entered: z.number().int(), exited: z.number().int() }));

reportRoutes.openapi(
  createRoute({
    method: "get",
    path: "/segments/{id}/history",
    summary: "A segment's size, entries and exits per day (role: viewer)",
    tags: ["Reports"],
    security: [{ bearer: [] }],
    middleware: [requireRole("viewer")],
    request: { params: idParam, query: z.object(rangeFields) },
    responses: ok(historyAnswer, "Days with a change, oldest first; size is at the end of the day"),
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    if (!(await getSegment(c.env.DB, c.get("admin").ws, id))) throw new ApiError(404, "not_found", `No segment ${id} in this workspace.`, { path: "id" });
    if (q.from && q.to && q.from > q.to) throw new ApiError(400, "invalid_request", "to: must not be before from", { path: "to" });
    return c.json(await segmentHistory(c.env.DB, id, q), 200);
  },
);

// Consent rates.
const counts = { granted: z.number().int(), denied: z.number().int() };
const consentAnswer = z.object({
  siteId: z.string(),
  from: z.string(),
  to: z.string(),
  purposes: z.array(z.string()),
  days: z.array(
    z.object({
      day: z.string(),
      purposes: z.record(z.string(), z.object({ ...counts, rate: z.number(), bySource: z.record(z.string(), z.object(counts)) })),
    }),
  ),
});

reportRoutes.openapi(
  createRoute({
    method: "get",
    path: "/reports/consent",
    summary: "Consent granted and denied per day and purpose, by the signal that decided (role: viewer)",
    tags: ["Reports"],
    security: [{ bearer: [] }],
    middleware: [requireRole("viewer")],
    request: { query: z.object({ siteId: z.string().min(1).max(64), ...rangeFields }) },
    responses: ok(consentAnswer, "Days with consent changes"),
  }),
  async (c) => {
    const q = c.req.valid("query");
    await ownSite(c, q.siteId);
    return c.json(await consentReport(c.env.DB, { siteId: q.siteId, ...rangeOf(q) }), 200);
  },
);

// The dashboard's overview.
const overviewAnswer = z.object({
  siteId: z.string(),
  period: z.enum(Object.keys(OVERVIEW_PERIODS) as [OverviewPeriod, ...OverviewPeriod[]]),
  from: z.string(),
  to: z.string(),
  bucketMinutes: z.number().int(),
  series: z.array(z.object({ at: z.string(), events: z.number().int() })),
  events: z.object({ current: z.number().int(), previous: z.number().int() }),
  visitors: z.object({ current: z.number().int(), previous: z.number().int() }),
  currentVisitors: z.number().int().openapi({ description: "Visitors with an event in the last five minutes." }),
  consent: z.array(z.object({ purpose: z.string(), granted: z.number().int(), denied: z.number().int(), rate: z.number().nullable(), previousRate: z.number().nullable() })),
});

reportRoutes.openapi(
  createRoute({
    method: "get",
    path: "/overview",
    summary: "A site at a glance: events over time, visitors, visitors now, consent rates, each against the period before (role: viewer)",
    tags: ["Reports"],
    security: [{ bearer: [] }],
    middleware: [requireRole("viewer")],
    request: {
      query: z.object({
        siteId: z.string().min(1).max(64),
        period: z.enum(Object.keys(OVERVIEW_PERIODS) as [OverviewPeriod, ...OverviewPeriod[]]).default("24h"),
      }),
    },
    responses: ok(overviewAnswer, "The period ending now and the one before it"),
  }),
  async (c) => {
    const q = c.req.valid("query");
    await ownSite(c, q.siteId);
    return c.json(await siteOverview(c.env.DB, q.siteId, q.period, Date.now()), 200);
  },
);
