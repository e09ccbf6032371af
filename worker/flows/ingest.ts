/**
 * The collection pipeline for one request, after the body is parsed (DESIGN.md §1, steps 2–5):
 * normalise and enrich each event, resolve consent, resolve whose profile it is (merging an
 * anonymous profile into the user's on identify/alias), apply it to that profile's Durable Object,
 * and hand every event (accepted, counted cookieless, or rejected) to the queue for D1.
 *
 * Profiles are applied before the queue: if either fails the request fails, and the sender's retry
 * is safe because both the profile (messageId) and the archive (primary key) deduplicate. What a
 * profile change owes the pipeline beyond the events (memberships, ledger entries, forgets) the
 * profile writes to its own outbox in the same transaction and sends itself.
 */
import { withConsent } from "../consent/enforce";
import { mayProfile, type ConsentPolicy, type ConsentState } from "../consent/purposes";
import { requestSignals, type RequestConsent } from "../consent/request";
import { resolveConsent, type ConsentSignals } from "../consent/resolve";
import { parseProfileKey, profileKey, type ProfileKey } from "../identity/keys";
import { userHashOf, verifiesUser, type IdentityPolicy } from "../identity/verify";
import { enqueue, type PipelineMessage } from "../pipeline/messages";
import { segmentContextOf, type SegmentContext } from "../segments";
import { applyToProfile, bindAnonymousId, currentKey, mergeProfiles } from "../profile/profiles";
import type { ApplyRequest, Definitions } from "../profile/contract";
import type { Site } from "../store/sites";
import { enrich, type EdgeRequest } from "../collect/enrich";
import { normalise, type CollectedEvent } from "../collect/normalise";
import { MAX_EVENT_BYTES, type ParsedEvents, type Rejection } from "../collect/parse";

/**
 * Who sent a request: `server` for the secret key (trusted: its ids are authoritative), `browser`
 * for the public write key, which means any untrusted client, a page or an app (which sends no
 * `Origin`): what it says of identity is a claim (README "Trust model").
 */
export type Source = "browser" | "server";

export interface IngestRequest {
  site: Site;
  /**
   * `browser` for write-key requests, from a page or an app alike (untrusted: the visitor is the
   * cookie, else the anonymousId it claims), `server` for secret-key ones.
   */
  source: Source;
  parsed: ParsedEvents;
  /** The verified visitor id from the cookie, for browser requests. */
  visitorId?: string;
  /** Makes a visitor id when a browser request with consent has none yet. */
  newVisitorId: () => string;
  edge: EdgeRequest;
  /** The workspace's live definitions (segments), re-evaluated on every profile the events touch. */
  definitions?: Definitions;
  /** The request's own consent signals (consent cookie, Sec-GPC, country); none when left out. */
  consent?: Omit<RequestConsent, "source">;
  /** How browser userIds are verified (server sources are trusted). Default: required, no secret. */
  identity?: IdentityPolicy;
  receivedAt: Date;
}

export interface IngestResult {
  accepted: number;
  rejected: Rejection[];
  /** The consent the browser's events were handled under. */
  consent: ConsentState;
  /** The signals it was resolved from (the explicit choice goes back in the consent cookie). */
  signals: ConsentSignals;
  /** The visitor id the response must set in the cookie; undefined when none may be kept. */
  visitorId?: string;
  /** The browser's profile was erased or its consent withdrawn: clear its cookie. */
  clearCookie: boolean;
  /** The profile the browser's events landed on, and its segments after them. */
  profile?: { key: ProfileKey; segments: string[] };
  /** The context of the request's last event, in the rule language's shape (for decisions). */
  context: SegmentContext;
}

export const sitePolicy = (site: Site): ConsentPolicy => ({
  purposes: site.purposes,
  defaults: site.consentDefaults ?? {},
  policyVersion: site.policyVersion,
});

export const dayOf = (iso: string) => iso.slice(0, 10);

export async function ingest(env: Pick<Env, "PROFILES" | "EVENTS">, request: IngestRequest): Promise<IngestResult> {
  const { site, parsed, receivedAt, source } = request;
  const policy = sitePolicy(site);
  const rejected = [...parsed.rejected];
  // A server's own location says nothing of its users: geo comes from the request for browsers only.
  const indexed = parsed.events.map(({ index, event }) => ({
    index,
    incoming: event,
    event: enrich(normalise(event, receivedAt, parsed.sentAt), source === "browser" ? request.edge : {}),
  }));
  if (source === "browser") await checkClaims(indexed, request.identity ?? { required: true }, rejected, Boolean(parsed.single));
  const claim = source === "browser" ? oneAnonymousId(indexed, rejected, Boolean(parsed.single)) : undefined;
  const events = indexed.map(({ event }) => event);
  // A server forwarding a crawler's user agent still speaks for its user: only a browser is taken for a bot.
  const isBot = (event: CollectedEvent) => source === "browser" && Boolean(event.context.bot);

  const signals = requestSignals(events, { ...request.consent, source });
  const requestConsent = resolveConsent(policy, signals, receivedAt.getTime());
  const humans = events.filter((e) => !isBot(e));
  // The browser's visitor: its cookie; else the anonymousId its SDK keeps (analytics.js and
  // RudderStack post cross-origin without credentials, so the cookie never comes back to them),
  // which is only a claim: it names an anonymous profile, never a cookie, never a user's profile;
  // else, with consent, a new id for a new cookie.
  let visitorId = request.visitorId;
  const claimed = source === "browser" && !visitorId && claim !== undefined && humans.length > 0;
  if (claimed) visitorId = claim;
  else if (source === "browser" && humans.length > 0 && !visitorId && mayProfile(requestConsent)) visitorId = request.newVisitorId();
  const claimKey = claimed ? profileKey(site.workspaceId, { anonymousId: claim })! : undefined;
  // With a cookie, the SDK's anonymousId is bound to the cookie's profile the first time it is
  // seen (first binding wins), so its later cookieless requests and a server's events land there.
  let bindings: ApplyRequest["identities"];
  if (source === "browser" && request.visitorId && claim && claim !== request.visitorId && humans.length > 0) {
    const bind = await bindAnonymousId(env.PROFILES, profileKey(site.workspaceId, { anonymousId: claim })!, profileKey(site.workspaceId, { anonymousId: request.visitorId })!);
    if (bind === "new") bindings = [{ kind: "anonymousId", value: claim }];
  }

  const messages: PipelineMessage[] = [];
  const groups = new Map<ProfileKey, CollectedEvent[]>();
  const archiveAnonymously: CollectedEvent[] = [];
  let accepted = 0;
  for (const { index, incoming, event } of indexed) {
    if (source === "browser" && !isBot(event)) {
      // In the browser the signed cookie is the anonymous id: a page cannot choose whose profile it
      // writes to. A different id sent by the client (analytics.js keeps its own) is kept aside.
      if (event.anonymousId && event.anonymousId !== visitorId) event.context.clientAnonymousId = event.anonymousId;
      if (visitorId) event.anonymousId = visitorId;
      else delete event.anonymousId;
    }
    const key = isBot(event) ? undefined : profileKey(site.workspaceId, event);
    if (!key && !(source === "browser")) {
      rejected.push({ index, code: "missing_identity", message: "an event needs a userId or an anonymousId", path: parsed.single ? "userId" : `batch.${index}.userId`, payload: incoming });
      continue;
    }
    accepted++;
    // A bot is archived (never profiled) when the request's consent allows keeping events; else only counted.
    if (isBot(event) && mayProfile(requestConsent)) archiveAnonymously.push(event);
    else if (isBot(event)) messages.push(cookielessMessage(site, event));
    else if (!key) messages.push(cookielessMessage(site, event));
    else groups.set(key, [...(groups.get(key) ?? []), event]);
  }

  // Stitching first, so the events of this request already land on the merged profile. A browser
  // is a claim, not an authority: it can only merge its own (cookie) profile into a user; an
  // alias naming any other previous id is honoured from servers (secret key) only.
  for (const event of events) {
    if (!event.userId || isBot(event)) continue;
    const from =
      source === "browser"
        ? event.type === "identify" || event.type === "alias"
          ? event.anonymousId
          : undefined
        : event.type === "alias"
          ? event.previousId
          : event.type === "identify"
            ? event.anonymousId
            : undefined;
    if (!from) continue;
    const to = profileKey(site.workspaceId, { userId: event.userId })!;
    let anonymous = profileKey(site.workspaceId, { anonymousId: from })!;
    // A server names a browser by its SDK's anonymousId, which may be bound to the browser's profile.
    if (source === "server" && event.type === "identify") anonymous = await currentKey(env.PROFILES, anonymous);
    if (parseProfileKey(anonymous)?.kind === "user") continue;
    const sources = [anonymous];
    if (event.type === "alias" && source === "server") sources.push(profileKey(site.workspaceId, { userId: from })!);
    for (const key of sources) {
      // The merged profile owes the pipeline its own departure (memberships, index row).
      await mergeProfiles(env.PROFILES, key, to);
    }
  }

  // After checkClaims, the userIds a browser request still names are verified.
  const verifiedUsers = new Set(events.flatMap((e) => (e.userId ? [profileKey(site.workspaceId, { userId: e.userId })!] : [])));
  let browserConsent = requestConsent;
  let clearCookie = false;
  const results = await Promise.all(
    [...groups].map(([key, group]) => {
      const identities = group.some((e) => e.anonymousId === visitorId) ? bindings : undefined;
      return applyToProfile(env.PROFILES, { key, events: group, signals, policy, retentionDays: site.retentionDays, definitions: request.definitions, siteId: site.id, identities }, key === claimKey ? { claimed: { verified: verifiedUsers } } : {}).then((r) => ({ r, group }));
    }),
  );
  let profile: IngestResult["profile"];
  for (const { r, group } of results) {
    // A claimed anonymousId that leads into a user's profile: not that user's events (the request
    // did not verify them), and not any profile's: counted only.
    if (r.intoUser) {
      for (const event of group) messages.push(cookielessMessage(site, event));
      continue;
    }
    const browserGroup = source === "browser" && group.some((e) => e.anonymousId === visitorId);
    if (browserGroup) browserConsent = r.consent;
    if (browserGroup || (source === "server" && !profile)) profile = { key: r.key, segments: r.segments };
    // Memberships, ledger entries and forgets are owed by the profile itself (its outbox).
    if (r.erased) {
      if (browserGroup) clearCookie = true;
      continue;
    }
    if (!mayProfile(r.consent)) {
      if (browserGroup) clearCookie = true;
      for (const event of group) messages.push(cookielessMessage(site, event));
      continue;
    }
    for (const event of group) {
      messages.push({ kind: "event", workspaceId: site.workspaceId, siteId: site.id, profileKey: r.key, event: withConsent(event, r.consent) });
    }
  }
  for (const event of archiveAnonymously) {
    messages.push({ kind: "event", workspaceId: site.workspaceId, siteId: site.id, profileKey: null, event: withConsent(event, requestConsent) });
  }
  for (const rejection of rejected) messages.push(failedMessage(site, rejection, receivedAt));
  await enqueue(env.EVENTS, messages);

  const keepCookie = source === "browser" && !claimed && humans.length > 0 && mayProfile(browserConsent) && !clearCookie;
  return {
    accepted,
    rejected: rejected.sort((a, b) => a.index - b.index),
    consent: browserConsent,
    signals,
    visitorId: keepCookie ? visitorId : undefined,
    clearCookie: source === "browser" && Boolean(request.visitorId) && !keepCookie,
    profile,
    context: segmentContextOf(events.at(-1)?.context ?? {}),
  };
}

/** A browser request speaks for one visitor: at most one (verified) userId besides its cookie. */
export const MAX_BROWSER_USERS = 1;

/**
 * Browser userIds are claims. An unverified one is moved aside to `context.claimedUserId` (the
 * event stays on the browser's own cookie profile); a verified one is kept; events naming a second
 * verified userId in the same request are refused (`too_many_users`).
 */
async function checkClaims(indexed: { index: number; incoming: unknown; event: CollectedEvent }[], policy: IdentityPolicy, rejected: Rejection[], single: boolean): Promise<void> {
  const verdicts = new Map<string, boolean>();
  const users = new Set<string>();
  for (let i = 0; i < indexed.length; i++) {
    const { index, incoming, event } = indexed[i]!;
    const userId = event.userId;
    if (!userId) continue;
    const hash = userHashOf(event.context);
    // The hash is a credential for that user: it is not stored with the event.
    if (hash !== undefined) event.context.identity = withoutHash(event.context.identity);
    const verdictKey = `${userId}\u0000${String(hash)}`;
    let verified = verdicts.get(verdictKey);
    if (verified === undefined) verdicts.set(verdictKey, (verified = await verifiesUser(policy, userId, hash)));
    if (!verified) {
      event.context.claimedUserId = userId;
      delete (event as { userId?: string }).userId;
      continue;
    }
    if (!users.has(userId) && users.size >= MAX_BROWSER_USERS) {
      rejected.push({ index, code: "too_many_users", message: `A browser request speaks for one visitor: this event names a second userId (at most ${MAX_BROWSER_USERS} per request).`, path: single ? "userId" : `batch.${index}.userId`, payload: incoming });
      indexed.splice(i--, 1);
      continue;
    }
    users.add(userId);
  }
}

/**
 * A browser request speaks for one visitor: the anonymousId its events name (the SDK's own), or
 * none. Events naming a second one are refused (`too_many_visitors`).
 */
function oneAnonymousId(indexed: { index: number; incoming: unknown; event: CollectedEvent }[], rejected: Rejection[], single: boolean): string | undefined {
  let named: string | undefined;
  for (let i = 0; i < indexed.length; i++) {
    const { index, incoming, event } = indexed[i]!;
    if (!event.anonymousId || event.anonymousId === named) continue;
    if (named === undefined) {
      named = event.anonymousId;
      continue;
    }
    rejected.push({ index, code: "too_many_visitors", message: "A browser request speaks for one visitor: this event names a second anonymousId.", path: single ? "anonymousId" : `batch.${index}.anonymousId`, payload: incoming });
    indexed.splice(i--, 1);
  }
  return named;
}

function withoutHash(identity: unknown): unknown {
  const { userHash: _hash, ...rest } = identity as Record<string, unknown>;
  return rest;
}

/** An event of a visitor who may not be profiled: only its site, day, type and name are counted. */
export function cookielessMessage(site: Pick<Site, "id">, event: CollectedEvent): PipelineMessage {
  const name = event.type === "track" ? event.event : event.type === "page" || event.type === "screen" ? (event.name ?? "") : "";
  return { kind: "cookieless", siteId: site.id, day: dayOf(event.timestamp), type: event.type, name, messageId: event.messageId };
}

/** A failed event on its way to D1; the payload is kept whole up to the per-event limit. */
export function failedMessage(site: Pick<Site, "id" | "workspaceId">, rejection: Omit<Rejection, "index"> & { index: number | null }, receivedAt: Date): PipelineMessage {
  const text = typeof rejection.payload === "string" ? rejection.payload : (JSON.stringify(rejection.payload) ?? "null");
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
    payload: boundedHead(text),
  };
}

/**
 * At most `MAX_EVENT_BYTES` of a refused payload, and fewer when its characters need escaping in
 * the queue message's JSON (32 KB of NUL bytes, a gzip bomb's usual filling, would be 192 KB there,
 * over the queue's limit).
 */
function boundedHead(text: string): string {
  let head = text.length > MAX_EVENT_BYTES ? text.slice(0, MAX_EVENT_BYTES) : text;
  while (JSON.stringify(head).length > 2 * MAX_EVENT_BYTES) head = head.slice(0, Math.floor(head.length / 2));
  return head;
}
