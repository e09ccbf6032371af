/**
 * The collection pipeline for one request, after the body is parsed (DESIGN.md §1, steps 2–5):
 * normalise and enrich each event, resolve whose profile it is, apply it to that profile's
 * Durable Object, and hand every event (accepted or rejected) to the queue for D1.
 *
 * Profiles are applied before the queue: if either fails the request fails, and the sender's retry
 * is safe because both the profile (messageId) and the archive (primary key) deduplicate.
 */
import { profileKey, profileStub, type ProfileKey } from "../identity/keys";
import { enqueue, type PipelineMessage } from "../pipeline/messages";
import type { Site } from "../store/sites";
import { enrich, type EdgeRequest } from "./enrich";
import { normalise, type CollectedEvent } from "./normalise";
import { MAX_EVENT_BYTES, type ParsedEvents, type Rejection } from "./parse";

export interface IngestRequest {
  site: Site;
  /** `browser` for write-key requests (the visitor is the cookie), `server` for secret-key ones. */
  source: "browser" | "server";
  parsed: ParsedEvents;
  /** The verified visitor id from the cookie, for browser requests. */
  visitorId?: string;
  /** Makes a visitor id when a browser request has none yet. */
  newVisitorId: () => string;
  edge: EdgeRequest;
  receivedAt: Date;
}

export interface IngestResult {
  accepted: number;
  rejected: Rejection[];
  /** The visitor id the response must set in the cookie (browser requests with a human visitor). */
  visitorId?: string;
}

interface Routed {
  event: CollectedEvent;
  key: ProfileKey | undefined;
}

export async function ingest(env: Pick<Env, "PROFILES" | "EVENTS">, request: IngestRequest): Promise<IngestResult> {
  const { site, parsed, receivedAt } = request;
  const rejected = [...parsed.rejected];
  const routed: Routed[] = [];
  let visitorId = request.visitorId;

  for (const { index, event: incoming } of parsed.events) {
    const event = enrich(normalise(incoming, receivedAt, parsed.sentAt), request.source === "browser" ? request.edge : { cf: request.edge.cf });
    if (request.source === "browser" && !event.context.bot) {
      // In the browser the signed cookie is the anonymous id: a page cannot choose whose profile
      // it writes to. A different id sent by the client (analytics.js keeps its own) is kept aside.
      visitorId ??= request.newVisitorId();
      if (event.anonymousId && event.anonymousId !== visitorId) event.context.clientAnonymousId = event.anonymousId;
      event.anonymousId = visitorId;
    }
    // A bot through the browser path has no id of its own: it is archived, never profiled.
    const browserBot = request.source === "browser" && event.context.bot;
    if (!event.userId && !event.anonymousId && !browserBot) {
      rejected.push({
        index,
        code: "missing_identity",
        message: "an event needs a userId or an anonymousId",
        path: parsed.single ? "userId" : `batch.${index}.userId`,
        payload: incoming,
      });
      continue;
    }
    routed.push({ event, key: event.context.bot ? undefined : profileKey(site.workspaceId, event) });
  }

  const byProfile = new Map<ProfileKey, CollectedEvent[]>();
  for (const { event, key } of routed) {
    if (key) byProfile.set(key, [...(byProfile.get(key) ?? []), event]);
  }
  const links = new Map<ProfileKey, string>();
  for (const { event, key } of routed) {
    if (key && event.userId && event.anonymousId && (event.type === "identify" || event.type === "alias")) {
      links.set(profileKey(site.workspaceId, { anonymousId: event.anonymousId })!, event.userId);
    }
  }
  await Promise.all([
    ...[...byProfile].map(([key, events]) => profileStub(env.PROFILES, key).apply(key, events)),
    ...[...links].map(([key, userId]) => profileStub(env.PROFILES, key).link(key, userId)),
  ]);

  const messages: PipelineMessage[] = routed.map(({ event, key }) => ({
    kind: "event",
    workspaceId: site.workspaceId,
    siteId: site.id,
    profileKey: key ?? null,
    event,
  }));
  for (const rejection of rejected) messages.push(failedMessage(site, rejection, receivedAt));
  await enqueue(env.EVENTS, messages);

  const human = routed.some(({ event }) => !event.context.bot);
  return {
    accepted: routed.length,
    rejected: rejected.sort((a, b) => a.index - b.index),
    visitorId: request.source === "browser" && human ? visitorId : undefined,
  };
}

/** A failed event on its way to D1; the payload is kept whole up to the per-event limit. */
export function failedMessage(site: Pick<Site, "id" | "workspaceId">, rejection: Omit<Rejection, "index"> & { index: number | null }, receivedAt: Date): PipelineMessage {
  const text = typeof rejection.payload === "string" ? rejection.payload : JSON.stringify(rejection.payload) ?? "null";
  const payload = rejection.payload as { messageId?: unknown } | null;
  return {
    kind: "failed",
    workspaceId: site.workspaceId,
    siteId: site.id,
    id: crypto.randomUUID(),
    receivedAt: receivedAt.toISOString(),
    code: rejection.code,
    message: rejection.message,
    path: rejection.path || null,
    batchIndex: rejection.index,
    messageId: typeof payload?.messageId === "string" ? payload.messageId.slice(0, 255) : null,
    payload: text.length > MAX_EVENT_BYTES ? text.slice(0, MAX_EVENT_BYTES) : text,
  };
}
