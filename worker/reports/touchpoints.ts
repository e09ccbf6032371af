/**
 * What an archived event means to the reports: a campaign touch (UTM parameters or a referrer from
 * outside the site), a page, a conversion (any track event, with its revenue), an exposure
 * (`Experiment Viewed`) or a segment entry or exit. Plain functions over the collected event.
 */
import type { CollectedEvent } from "../collect/normalise";
import { NONE } from "./credit";

/*
 * The events Cohort itself records, named as decisions/exposure.ts and pipeline/messages.ts write
 * them (spelled out here so this module stays free of Worker bindings and runs in plain Node; the
 * workerd tests build these events with those modules).
 */
export const EXPERIMENT_VIEWED = "Experiment Viewed";
export const SEGMENT_ENTERED = "Segment Entered";
export const SEGMENT_EXITED = "Segment Exited";

export const TOUCHPOINT_KINDS = ["touch", "page", "conversion", "exposure", "segment"] as const;
export type TouchpointKind = (typeof TOUCHPOINT_KINDS)[number];

export interface Touchpoint {
  /** The event's messageId (`#touch` appended for the touch an event also carries). */
  id: string;
  siteId: string;
  at: number;
  kind: TouchpointKind;
  name: string;
  data: Record<string, unknown>;
}

/** Page views are funnel steps under this name. */
export const PAGE_VIEWED = "Page Viewed";

/** Track events Cohort itself records: never conversions. */
const SYSTEM_EVENTS = new Set([EXPERIMENT_VIEWED, SEGMENT_ENTERED, SEGMENT_EXITED]);

/** A referrer classification (worker/collect/enrich.ts) as a medium, GA-style. */
const MEDIUM_OF: Record<string, string> = { search: "organic", social: "social", email: "email", referral: "referral", paid: "cpc" };

/** Revenue cents are capped so that every split stays exact in a double. */
const MAX_CENTS = 1e12;

const record = (value: unknown): Record<string, unknown> => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
const str = (value: unknown) => (typeof value === "string" && value !== "" ? value.slice(0, 255) : undefined);

export const dayOf = (at: number) => new Date(at).toISOString().slice(0, 10);

/** Revenue of an event in integer cents: `properties.revenue`, else `properties.total`; 0 when neither is a non-negative number. */
export function revenueCents(properties: Record<string, unknown> | undefined): number {
  const raw = properties?.revenue ?? properties?.total;
  const value = typeof raw === "number" ? raw : typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
  if (!Number.isFinite(value) || value <= 0) return 0;
  return Math.min(MAX_CENTS, Math.round(value * 100));
}

/** The campaign touch an event carries, if any: its UTM campaign, else a referrer from outside the site. */
export function touchOf(event: CollectedEvent): { source: string; medium: string; campaign: string } | undefined {
  const context = record(event.context);
  const campaign = record(context.campaign);
  const referrer = record(context.referrer);
  const type = str(referrer.type);
  const source = str(campaign.source);
  const medium = str(campaign.medium);
  const name = str(campaign.name);
  if (source || medium || name) return { source: source ?? str(referrer.host) ?? "(not set)", medium: medium ?? MEDIUM_OF[type ?? ""] ?? NONE, campaign: name ?? NONE };
  if (type && type in MEDIUM_OF) return { source: str(referrer.host) ?? "(not set)", medium: MEDIUM_OF[type]!, campaign: NONE };
  return undefined;
}

/** The touchpoints of one event (none for identify, group, alias or a bot). */
export function touchpointsOf(event: CollectedEvent, siteId: string, goalsOf: (event: CollectedEvent) => string[] = () => []): Touchpoint[] {
  if (event.context.bot === true) return [];
  const at = Date.parse(event.timestamp);
  if (!Number.isFinite(at)) return [];
  const out: Touchpoint[] = [];
  const touch = touchOf(event);
  if (touch) out.push({ id: `${event.messageId}#touch`, siteId, at, kind: "touch", name: touch.source, data: touch });
  const properties = record(event.properties);
  if (event.type === "page" || event.type === "screen") {
    const page = record(event.context.page);
    out.push({ id: event.messageId, siteId, at, kind: "page", name: event.name ?? str(page.path) ?? PAGE_VIEWED, data: pick({ path: page.path, url: page.url, title: page.title }) });
  } else if (event.type === "track") {
    // Exposures and segment changes count only when Cohort wrote them: a browser can send any event
    // name, and what came in through collection always carries `context.bot` (collect/enrich.ts).
    const own = !("bot" in event.context);
    if ((event.event === EXPERIMENT_VIEWED || event.event === SEGMENT_ENTERED || event.event === SEGMENT_EXITED) && !own) {
      // A claimed exposure or segment change: no touchpoint, and not a conversion either.
    } else if (event.event === EXPERIMENT_VIEWED) {
      const experienceId = str(properties.experiment_id);
      const variant = str(properties.variation_id);
      if (experienceId && variant) out.push({ id: event.messageId, siteId, at, kind: "exposure", name: experienceId, data: { experienceId, variant } });
    } else if (event.event === SEGMENT_ENTERED || event.event === SEGMENT_EXITED) {
      const segmentId = str(properties.segmentId);
      if (segmentId) out.push({ id: event.messageId, siteId, at, kind: "segment", name: segmentId, data: { segmentId, member: event.event === SEGMENT_ENTERED } });
    } else {
      const goals = goalsOf(event);
      out.push({ id: event.messageId, siteId, at, kind: "conversion", name: event.event, data: goals.length ? { revenue: revenueCents(properties), goals } : { revenue: revenueCents(properties) } });
    }
  }
  return out;
}

/** A funnel step of an event: its name (page views: `Page Viewed`) and its properties. */
export function funnelStepOf(event: CollectedEvent): { name: string; properties: Record<string, unknown> } | undefined {
  if (event.context.bot === true) return undefined;
  if (event.type === "track" && !SYSTEM_EVENTS.has(event.event)) return { name: event.event, properties: scalars(record(event.properties)) };
  if (event.type === "page") {
    const page = record(event.context.page);
    return { name: PAGE_VIEWED, properties: scalars({ name: event.name, path: page.path, url: page.url, title: page.title, ...record(event.properties) }) };
  }
  return undefined;
}

function pick(value: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === "string").map(([k, v]) => [k, (v as string).slice(0, 500)]));
}

/** The properties a funnel `where` can test, kept small: top-level strings, numbers and booleans. */
function scalars(properties: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let size = 0;
  for (const [key, value] of Object.entries(properties)) {
    if (!["string", "number", "boolean"].includes(typeof value)) continue;
    const kept = typeof value === "string" ? value.slice(0, 200) : value;
    size += key.length + String(kept).length;
    if (size > 2000) break;
    out[key] = kept;
  }
  return out;
}
