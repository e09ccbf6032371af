/**
 * What one event does to a profile, as plain data: the ProfileStore Durable Object applies these
 * effects to its storage. Kept pure so the rules read (and test) without a Durable Object.
 */
import type { CollectedEvent } from "../collect/normalise";

export interface CampaignTouch {
  messageId: string;
  at: number;
  source?: string;
  medium?: string;
  name?: string;
  term?: string;
  content?: string;
  referrerType?: string;
  landingUrl?: string;
}

export interface RecentEvent {
  messageId: string;
  type: string;
  event?: string;
  name?: string;
  timestamp: string;
  properties: Record<string, unknown>;
  page?: { url?: string; path?: string; title?: string };
}

export interface Effects {
  at: number;
  identities: { kind: "userId" | "anonymousId" | "previousId" | "groupId"; value: string }[];
  /** Traits to merge (identify), top-level keys overwrite. */
  traits?: Record<string, unknown>;
  /** Counter names to increment by one. */
  counters: string[];
  campaign?: CampaignTouch;
  recent: RecentEvent;
}

const str = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);

/** The counter names an event increments: the total, its type, and for track its event name. */
export function countersFor(event: { type: string; event?: string }): string[] {
  const names = ["total", `type:${event.type}`];
  if (event.type === "track" && event.event) names.push(`event:${event.event}`);
  return names;
}

/**
 * A campaign touch is recorded when the visit came from somewhere other than the site itself
 * (utm parameters, a click id, or an external referrer): the data behind first/last-touch reports.
 */
function campaignTouch(event: CollectedEvent, at: number): CampaignTouch | undefined {
  const campaign = (event.context.campaign ?? {}) as Record<string, unknown>;
  const referrer = (event.context.referrer ?? {}) as Record<string, unknown>;
  const referrerType = str(referrer.type);
  const hasCampaign = Object.keys(campaign).length > 0;
  if (!hasCampaign && (referrerType === undefined || referrerType === "direct" || referrerType === "internal")) return undefined;
  return {
    messageId: event.messageId,
    at,
    source: str(campaign.source) ?? str(referrer.host),
    medium: str(campaign.medium) ?? referrerType,
    name: str(campaign.name),
    term: str(campaign.term),
    content: str(campaign.content),
    referrerType,
    landingUrl: str(event.context.page?.url),
  };
}

export function effectsOf(event: CollectedEvent): Effects {
  const at = Date.parse(event.timestamp);
  const identities: Effects["identities"] = [];
  if (event.userId) identities.push({ kind: "userId", value: event.userId });
  if (event.anonymousId) identities.push({ kind: "anonymousId", value: event.anonymousId });
  if (event.type === "alias") identities.push({ kind: "previousId", value: event.previousId });
  if (event.type === "group") identities.push({ kind: "groupId", value: event.groupId });

  const page = event.context.page;
  const recent: RecentEvent = {
    messageId: event.messageId,
    type: event.type,
    timestamp: event.timestamp,
    properties: (event.type === "track" || event.type === "page" || event.type === "screen" ? event.properties : undefined) ?? {},
    ...(event.type === "track" ? { event: event.event } : {}),
    ...((event.type === "page" || event.type === "screen") && event.name ? { name: event.name } : {}),
    ...(page ? { page: { url: page.url, path: page.path, title: page.title } } : {}),
  };

  return {
    at,
    identities,
    traits: event.type === "identify" ? event.traits : undefined,
    counters: countersFor(event),
    campaign: event.type === "page" || event.type === "screen" ? campaignTouch(event, at) : undefined,
    recent,
  };
}
