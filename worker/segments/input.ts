/**
 * What a rule is evaluated against: plain data the ProfileStore assembles from its storage and the
 * current request. Rules never read storage themselves, so evaluation is a pure function of
 * (input, now) and the same code runs in the Durable Object, in backfill and in tests.
 *
 * Event names — the convention a Segment user expects (Segment Engage shows page calls the same way):
 * - a `track` event is matched by its event name: `{event: "Order Completed"}`;
 * - a `page` call is the event `"Page Viewed"`, a `screen` call `"Screen Viewed"`; their properties
 *   are the page's (`url`, `path`, `title`, `referrer`, `search`, from the call's properties or else its
 *   context) plus the page's `name` and `category` when given, so
 *   `{event: "Page Viewed", where: [{property: "path", op: "startsWith", value: "/shoes"}]}` works;
 * - `identify`, `group` and `alias` calls are not events for rules (their traits are).
 * Names are case-sensitive, like Segment's.
 */
import type { Purpose } from "./schema";

/**
 * An event as a profile keeps it, as far as rules read it (the profile's own row type has these
 * fields and more; the rule language does not depend on it).
 */
export interface StoredEvent {
  messageId?: string;
  type: string;
  event?: string;
  name?: string;
  timestamp: string;
  properties: Record<string, unknown>;
  page?: { url?: string; path?: string; title?: string };
}

export const PAGE_EVENT = "Page Viewed";
export const SCREEN_EVENT = "Screen Viewed";

export interface SegmentEvent {
  /** The name rules match: the track event's name, or `Page Viewed` / `Screen Viewed`. */
  name: string;
  /** The Segment call type: `track`, `page` or `screen`. */
  type: string;
  /** When it happened, in ms since the epoch. */
  at: number;
  properties: Record<string, unknown>;
}

/** The current request's context, in the shape `{context}` clauses name (`geo.country`, …). */
export interface SegmentContext {
  geo?: { country?: string; region?: string; city?: string; continent?: string };
  device?: { type?: string };
  browser?: { name?: string };
  os?: { name?: string };
  utm?: { source?: string; medium?: string; campaign?: string; term?: string; content?: string };
  referrer?: { type?: string; host?: string };
  page?: { url?: string; path?: string };
}

export interface SegmentInput {
  traits: Record<string, unknown>;
  /** The profile's events, in any order. */
  events: readonly SegmentEvent[];
  context: SegmentContext;
  /** The profile's first and last event times, ms since the epoch. */
  firstSeen?: number;
  lastSeen?: number;
  consent: Partial<Record<Purpose, boolean>>;
  /** Current memberships of other segments, by segment id. */
  segments: Record<string, boolean>;
  /** The profile's prediction scores by prediction id (score 0–1, percentile 0–100); none: no score. */
  predictions?: Record<string, { score: number; percentile: number }>;
}

/** The rule name of a Segment call, or undefined for calls that are not events for rules. */
export function eventNameOf(call: { type: string; event?: string }): string | undefined {
  if (call.type === "track") return call.event;
  if (call.type === "page") return PAGE_EVENT;
  if (call.type === "screen") return SCREEN_EVENT;
  return undefined;
}

/** A profile's stored recent event as rules see it, or undefined when rules ignore it. */
export function segmentEventOf(recent: StoredEvent): SegmentEvent | undefined {
  const name = eventNameOf(recent);
  const at = Date.parse(recent.timestamp);
  if (name === undefined || Number.isNaN(at)) return undefined;
  if (recent.type === "track") return { name, type: recent.type, at, properties: recent.properties };
  const properties: Record<string, unknown> = { ...recent.page };
  if (recent.name !== undefined) properties.name = recent.name;
  Object.assign(properties, recent.properties);
  return { name, type: recent.type, at, properties };
}

const str = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);
const record = (value: unknown) => (typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {});

/**
 * The rule context of an enriched Segment event context (`context.location`, `context.campaign`,
 * `context.referrer`, …): `utm.campaign` is Segment's `campaign.name`.
 */
export function segmentContextOf(context: Record<string, unknown>): SegmentContext {
  const location = record(context.location);
  const campaign = record(context.campaign);
  const referrer = record(context.referrer);
  const page = record(context.page);
  return {
    geo: { country: str(location.country), region: str(location.region), city: str(location.city), continent: str(location.continent) },
    device: { type: str(record(context.device).type) },
    browser: { name: str(record(context.browser).name) },
    os: { name: str(record(context.os).name) },
    utm: { source: str(campaign.source), medium: str(campaign.medium), campaign: str(campaign.name), term: str(campaign.term), content: str(campaign.content) },
    referrer: { type: str(referrer.type), host: str(referrer.host) },
    page: { url: str(page.url), path: str(page.path) },
  };
}
