/**
 * ProfileStore: one Durable Object per profile (DESIGN.md §2), on SQLite storage migrated by
 * drizzle. It is the single writer of that profile, so counts are exact and a messageId is
 * applied once however many times and however concurrently it is delivered: every RPC reads and
 * writes its state without awaiting, so no two interleave (only the outbox's send awaits, and it
 * touches nothing but the rows it sent). It holds the profile's consent (the authority for it),
 * the forward pointer left by a merge, the erasure tombstone, and the outbox of what its changes
 * owe the pipeline. Decisions are pure functions (`rules.ts`, `effects.ts`, `merge.ts`,
 * `consent/`, `segments/`, `decisions/`); storage is `storage.ts`.
 */
import { deviceOf, type DeviceSummary } from "../collect/device";
import { DurableObject } from "cloudflare:workers";
import type { CollectedEvent } from "../collect/normalise";
import { stripClickIds, stripTouch, withConsent } from "../consent/enforce";
import { mayProfile, type ConsentState } from "../consent/purposes";
import { combineExplicit, resolveConsent, type ExplicitChoice } from "../consent/resolve";
import { audienceMatcher, contextOnlyInput } from "../decisions/audience";
import { decide, decideWithoutProfile } from "../decisions/choose";
import { exposureEvent } from "../decisions/exposure";
import { parseProfileKey, type ProfileKey } from "../identity/keys";
import { enqueue, forgetMessage, membershipMessages, stripAdsMessage, type PipelineMessage } from "../pipeline/messages";
import { compileRule, explain, segmentContextOf, segmentEventOf, type Explanation, type Rule, type SegmentContext, type SegmentEvent, type SegmentInput } from "../segments";
import { evaluateSegments, historyNeeded, nextSegmentEdge, type SegmentDef } from "../segments/membership";
import { FEATURE_HISTORY_MS } from "../predictions/features";
import { featureEventsOf, scoreProfile, type ModelDef, type PredictionScore } from "../predictions/score";
import { DAY, type ApplyRequest, type ApplyResult, type Definitions, type ExposureRecord, type MembershipChange, type ProfileDecideRequest, type ProfileDecision, type ProfileView } from "./contract";
import { effectsOf, type CampaignTouch, type RecentEvent } from "./effects";
import { MAX_SNAPSHOT_BYTES, PRUNE_EVERY } from "./limits";
import { countersToAdd, type ProfileSnapshot } from "./merge";
import { archiveMessage, ledgerMessage } from "./owed";
import { alarmTime, consentTransition, diffMemberships, outboxRetryDelay } from "./rules";
import { ProfileStorage } from "./storage";

export * from "./contract";

/** Owed messages wait at most this long for the send that follows the change (then the alarm sends them). */
const OUTBOX_GRACE_MS = 30_000;

/** Scores as the profile view shows them: each with the time it was computed. */
function predictionView(held: { at: number; scores: Record<string, PredictionScore> } | undefined): ProfileView["predictions"] {
  if (!held) return {};
  const scoredAt = new Date(held.at).toISOString();
  return Object.fromEntries(Object.entries(held.scores).map(([id, score]) => [id, { ...score, scoredAt }]));
}

/** What a profile evaluates after its events; `models` absent: the request carried no definitions. */
interface HeldDefinitions {
  segments: SegmentDef[];
  models?: ModelDef[];
}

export class ProfileStore extends DurableObject<Env> {
  private readonly data: ProfileStorage;
  /** The alarm time last set by this instance. */
  private alarmAt?: number;
  /** The stored events as rules see them, parsed once, appended as events arrive, dropped on any rewrite. */
  private segmentEvents?: SegmentEvent[];
  private flushing?: Promise<void>;
  /** The held definitions (meta `segments` and `models`, version `definitions_version`), parsed. */
  private held?: HeldDefinitions;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // A failed transaction rolled back what the parsed copies below may already hold.
    this.data = new ProfileStorage(ctx.storage, () => {
      this.segmentEvents = undefined;
      this.held = undefined;
    });
    ctx.blockConcurrencyWhile(async () => {
      this.data.migrate();
      // A new profile has no stored events: the rules' list starts empty and grows as events arrive.
      if (this.data.isNew) this.segmentEvents = [];
      // Profiles from before the outbox table kept the alarm's pending messages in `meta`.
      const legacy = this.data.json<PipelineMessage[]>("outbox");
      if (legacy) this.data.transaction(() => (this.owe(legacy, Date.now()), this.data.delete("outbox")));
    });
  }

  /** Applies events (any order, any repetition) under the resolved consent; each messageId counts once. */
  apply(request: ApplyRequest): ApplyResult {
    const { key, events, policy } = request;
    const now = Date.now();
    const previous = this.data.json<ConsentState>("consent");
    const explicit = combineExplicit(this.data.json<ExplicitChoice>("explicit"), request.signals.explicit);
    const consent = resolveConsent(policy, { ...request.signals, explicit }, now);
    const base = { applied: 0, duplicates: 0, consent, consentChanged: false, membershipChanges: [] as MembershipChange[], segments: [] as string[] };
    if (this.data.get("erased")) return { ...base, erased: true };
    const target = this.data.get("merged_into");
    if (target) return { ...base, forwardedTo: target as ProfileKey };
    // The definitions' version is sent; the bundle only when this profile holds another one.
    const defs = this.definitions(request.definitions);
    if (!defs) return { ...base, needsDefinitions: true };
    const { segments } = defs;
    const transition = consentTransition(previous, consent);
    if (transition.ignore) return base;

    let applied = 0;
    let forgotten = false;
    this.data.transaction(() => {
      if (explicit) this.data.set("explicit", JSON.stringify(explicit));
      this.data.set("consent", JSON.stringify(consent));
      const held = this.data.get("key");
      if ((transition.ledger || request.recordChoice) && request.siteId) {
        this.owe([ledgerMessage({ workspaceId: parseProfileKey(key)?.workspaceId ?? "", id: request.siteId }, key, request.signals, consent, now)], now);
      }
      if (transition.forget) {
        forgotten = held !== undefined;
        if (held) this.owe([forgetMessage(held, true, this.data.mergedFromKeys())], now);
        this.forgetData();
        return;
      }
      if (transition.stripAds && held) {
        this.stripAdIdentifiers();
        this.owe([stripAdsMessage(held, this.data.mergedFromKeys())], now);
      }
      if (transition.dropPersonalisation) {
        this.data.dropAssignments();
        this.data.delete("predictions");
      }
      this.data.setOnce("key", key);
      this.data.set("retention_days", String(request.retentionDays));
      if (request.siteId) this.data.set("site_id", request.siteId);
      for (const identity of request.identities ?? []) this.data.addIdentity(identity.kind, identity.value, now);
      // One statement records every messageId; a messageId twice in the request counts once.
      const fresh = this.data.markSeenAll(events.map((e) => e.messageId), now);
      const toStore = events.filter((e) => fresh.delete(e.messageId)).map((e) => withConsent(e, consent));
      applied = toStore.length;
      // The device of the newest applied event that named one.
      const device = toStore.reduce<DeviceSummary | undefined>((found, e) => deviceOf(e.context) ?? found, undefined);
      if (device) this.data.set("device", JSON.stringify(device));
      const total = this.store(toStore, now).get("total");
      // Pruning is amortised over the stored total (so an object's restarts neither skip nor repeat it).
      if (total !== undefined && Math.floor((total - applied) / PRUNE_EVERY) < Math.floor(total / PRUNE_EVERY)) this.prune(now);
    });
    let membershipChanges: MembershipChange[] = [];
    // Segments are evaluated when the workspace has some (or this profile is still in one of a
    // segment since deleted); with none, nothing is read back.
    const evaluate = !forgotten && (segments.length > 0 || this.data.memberOf().length > 0);
    const models = forgotten ? undefined : defs.models;
    const last = events.at(-1);
    if (last && (evaluate || (models && models.length > 0))) this.data.set("context", JSON.stringify(segmentContextOf(last.context)));
    // Scores first: segments may name them.
    if (models) this.scorePredictions(models, consent, now);
    if (evaluate) {
      membershipChanges = this.refreshSegments(segments, now);
    }
    if (applied > 0 || evaluate) this.scheduleAlarm();
    this.flushSoon();
    return { ...base, consentChanged: transition.ledger, applied, duplicates: events.length - applied, membershipChanges, segments: this.data.memberOf(), forgotten };
  }

  /**
   * Re-evaluates segments (a new or changed segment's backfill) at `now`; returns what changed.
   * Without personalisation consent a profile is in no segment.
   */
  evaluate(definitions: Definitions, now = Date.now()): MembershipChange[] {
    if (!this.data.get("key") || this.data.get("erased") || this.data.get("merged_into")) return [];
    const { segments } = this.definitions(definitions)!;
    const changes = this.refreshSegments(segments, now);
    this.scheduleAlarm();
    this.flushSoon();
    return changes;
  }

  /**
   * Decides the requested slots for this profile (read-your-writes: after the events of the same
   * request). Assignments are sticky; a first exposure is recorded as an `Experiment Viewed` event
   * (once: its messageId is derived from the experience and the profile) and owed to the archive.
   * Without personalisation consent the profile is not used (contextual decisions only).
   */
  decide(request: ProfileDecideRequest): ProfileDecision {
    const target = this.data.get("merged_into");
    if (target) return { decisions: {}, exposures: [], assignments: {}, forwardedTo: target as ProfileKey };
    const key = this.data.get("key");
    const consent = this.data.json<ConsentState>("consent");
    if (!key || this.data.get("erased") || !consent || !mayProfile(consent)) return decideWithoutProfile(request);
    const input = { ...this.segmentInput(), context: request.context };
    const assignments = Object.fromEntries(this.data.assignmentRows().map((r) => [r.experienceId, r.variant]));
    const result = decide({
      ...request,
      profile: { key, assignments, matches: audienceMatcher(input, request.now), traits: input.traits },
      personalization: consent.purposes.personalization,
      contextMatches: audienceMatcher(contextOnlyInput(request.context), request.now),
      context: request.context as Record<string, unknown>,
    });
    if (request.record !== false) {
      const names = Object.fromEntries(request.experiences.map((e) => [e.id, e.name ?? ""]));
      this.recordExposures({ siteId: request.siteId, now: request.now, assignments: result.assignments, exposures: result.exposures, names });
    }
    return result;
  }

  /** Records the assignments and first exposures of a decision that was served. */
  recordExposures(record: ExposureRecord): void {
    const key = this.data.get("key");
    const consent = this.data.json<ConsentState>("consent");
    if (!key || this.data.get("erased") || this.data.get("merged_into") || !consent || !mayProfile(consent)) return;
    const now = Date.now();
    this.data.transaction(() => {
      for (const [experienceId, variant] of Object.entries(record.assignments)) this.data.assign(experienceId, variant, record.now, false);
      for (const exposure of record.exposures) {
        if (!exposure.first) continue;
        const event = withConsent(exposureEvent(key, exposure, record.names[exposure.experienceId] || undefined, record.now), consent);
        if (!this.data.markSeen(event.messageId, now)) continue;
        this.store([event], now);
        this.owe([archiveMessage(key, record.siteId, event)], now);
      }
    });
    this.flushSoon();
  }

  /** For `explain`: which clauses of a segment held for this profile now, with the values seen. */
  explainRule(rule: Rule): Explanation | null {
    if (!this.data.get("key")) return null;
    return explain(rule, this.segmentInput(), Date.now());
  }

  /** Whether a rule (not yet saved) matches this profile now: the segment preview's sample. */
  matchesRule(rule: Rule): boolean {
    return this.data.get("key") !== undefined && compileRule(rule)(this.segmentInput(), Date.now());
  }

  /**
   * First step of a merge into `target`: leaves the forward pointer (from now on this profile's
   * events are the target's) and returns everything the profile holds (null when nothing).
   * Repeatable: a retried merge gets the same snapshot, until `finishMerge` clears the data.
   */
  beginMerge(target: ProfileKey): ProfileSnapshot | null {
    if (this.data.get("erased")) return null;
    const pointer = this.data.get("merged_into");
    if (pointer && pointer !== target) return null;
    // Even a browser with no profile yet now leads to the user: its later events land there.
    this.data.set("merged_into", target);
    if (!this.data.get("key")) return null;
    return this.snapshot();
  }

  /**
   * Binds this anonymousId to the browser profile `target` (README "One browser, one profile"):
   * from now on its events are the target's, as after a merge. First binding wins: an id already
   * in use (it holds a profile or a consent, was bound or merged, or was erased) is never re-bound.
   */
  bindTo(target: ProfileKey): "bound" | "already" | "in_use" {
    const pointer = this.data.get("merged_into");
    if (pointer) return pointer === target ? "already" : "in_use";
    if (this.data.get("erased") || this.data.get("key") !== undefined || this.data.get("consent") !== undefined) return "in_use";
    this.data.set("merged_into", target);
    return "bound";
  }

  /** Everything the profile holds, for an access request; null when it holds nothing. */
  exportData(): (ProfileSnapshot & { consent?: ConsentState; mergedInto?: string; mergedFrom: string[]; predictions: ProfileView["predictions"] }) | null {
    if (!this.data.get("key")) return null;
    return {
      ...this.snapshot(Infinity),
      consent: this.data.json<ConsentState>("consent"),
      mergedInto: this.data.get("merged_into"),
      mergedFrom: this.data.mergedFromKeys(),
      // Profiling results are the subject's data too (an access request shows them).
      predictions: predictionView(this.predictionScores()),
    };
  }

  /** The profile as plain data; recent events newest first, up to `maxEventBytes` (a merge's bound). */
  private snapshot(maxEventBytes = MAX_SNAPSHOT_BYTES): ProfileSnapshot {
    let bytes = 0;
    const events = [];
    for (const row of this.data.eventRows()) {
      bytes += row.body.length + row.messageId.length;
      if (bytes > maxEventBytes) break;
      events.push(row);
    }
    return {
      key: this.data.get("key")!,
      identities: this.data.identityRows(),
      traits: this.data.traitRows(),
      counters: this.data.counterValues(),
      seen: this.data.seenRows(),
      events,
      campaigns: this.data.campaignRows(),
      assignments: this.data.assignmentRows(),
      firstSeen: this.data.number("first_seen"),
      lastSeen: this.data.number("last_seen"),
      explicit: this.data.json<ExplicitChoice>("explicit"),
      device: this.data.json<DeviceSummary>("device"),
    };
  }

  /** Takes in a merged profile, once per source, counting nothing twice. */
  absorb(key: ProfileKey, snapshot: ProfileSnapshot): { forwardedTo?: ProfileKey } {
    if (this.data.get("erased")) return {};
    const target = this.data.get("merged_into");
    if (target) return { forwardedTo: target as ProfileKey };
    const now = Date.now();
    this.data.transaction(() => {
      if (!this.data.markMerged(snapshot.key, now)) return;
      this.data.setOnce("key", key);
      const alreadySeen = new Set<string>();
      for (const { messageId, at } of snapshot.seen) if (!this.data.markSeen(messageId, at)) alreadySeen.add(messageId);
      this.data.increment(new Map(Object.entries(countersToAdd(snapshot, alreadySeen))));
      // The newer value of a trait wins, wherever it was set.
      this.data.setTraits(snapshot.traits, true);
      const source = parseProfileKey(snapshot.key);
      const sourceIdentity = source ? [{ kind: source.kind === "anon" ? "anonymousId" : "userId", value: source.id }] : [];
      for (const i of [...snapshot.identities, ...sourceIdentity]) if (i.value) this.data.addIdentity(i.kind, i.value, now);
      this.segmentEvents = undefined;
      for (const e of snapshot.events) this.data.addEventRow(e);
      for (const c of snapshot.campaigns) this.data.addCampaignRow(c);
      // A variant already seen stays the visitor's: the target's own assignment wins a conflict.
      for (const a of snapshot.assignments ?? []) this.data.assign(a.experienceId, a.variant, a.at, true);
      // The device of whichever profile saw the newer event.
      if (snapshot.device && (!this.data.get("device") || (snapshot.lastSeen ?? -Infinity) > (this.data.number("last_seen") ?? -Infinity))) this.data.set("device", JSON.stringify(snapshot.device));
      if (snapshot.firstSeen !== undefined && snapshot.firstSeen < (this.data.number("first_seen") ?? Infinity)) this.data.set("first_seen", String(snapshot.firstSeen));
      if (snapshot.lastSeen !== undefined && snapshot.lastSeen > (this.data.number("last_seen") ?? -Infinity)) this.data.set("last_seen", String(snapshot.lastSeen));
      const explicit = combineExplicit(this.data.json<ExplicitChoice>("explicit"), snapshot.explicit);
      if (explicit) this.data.set("explicit", JSON.stringify(explicit));
      this.prune(now);
    });
    return {};
  }

  /**
   * Last step of a merge: the data now lives in the target; only the pointer stays here, and the
   * pipeline is owed the source's departure (its memberships and index row leave D1).
   */
  finishMerge(target: ProfileKey): void {
    if (this.data.get("merged_into") !== target) return;
    const key = this.data.get("key");
    this.data.transaction(() => {
      if (key) this.owe([forgetMessage(key, false)], Date.now());
      this.forgetData();
    });
    this.flushSoon();
  }

  /** Where this profile's events go now, if it was merged. */
  mergedInto(): ProfileKey | undefined {
    return this.data.get("merged_into") as ProfileKey | undefined;
  }

  /** The keys of profiles merged into this one. */
  mergedFrom(): string[] {
    return this.data.mergedFromKeys();
  }

  /**
   * Erases the profile: all storage (what it still owed included) and its alarm, leaving only a
   * tombstone, so a replayed or late event cannot bring the subject back.
   */
  async erase(): Promise<void> {
    this.alarmAt = undefined;
    this.segmentEvents = undefined;
    this.held = undefined;
    // Data and tombstone in one transaction: no moment where neither exists.
    this.data.transaction(() => {
      this.data.eraseAll();
      this.data.set("erased", String(Date.now()));
    });
    await this.ctx.storage.deleteAlarm();
  }

  /**
   * The profile's alarm: expiry after the site's days of inactivity, a segment window edge (the
   * moment a membership changes only because time passed), or owed messages whose send failed.
   * The state changes are made before anything is awaited; then the outbox is sent.
   */
  override async alarm(): Promise<void> {
    this.alarmAt = undefined;
    const now = Date.now();
    const expires = this.expiresAt();
    this.data.transaction(() => {
      this.data.delete("outbox_at");
      if (expires !== undefined && now >= expires) {
        // Its memberships and index row leave D1 too (its raw events are past retention, purged daily).
        const key = this.data.get("key");
        if (key) this.owe([forgetMessage(key, false)], now);
        this.segmentEvents = undefined;
        this.data.forgetData();
        for (const name of ["consent", "explicit", "retention_days", "site_id", "segments", "models", "history_ms", "definitions_version"]) this.data.delete(name);
        this.held = undefined;
        return;
      }
      const edge = this.data.number("edge_at");
      const segments = this.heldDefinitions()?.segments;
      if (edge !== undefined && segments && now >= edge) {
        this.data.delete("edge_at");
        this.refreshSegments(segments, edge);
      }
    });
    this.scheduleAlarm();
    // A refused send is already rescheduled (with a growing delay) by flush itself.
    await this.flush().catch((error) => console.warn("profile outbox: send failed in the alarm, retried later", String(error)));
  }

  /** The profile, or null when nothing is held (never seen, cookieless, merged away or erased). */
  view(): ProfileView | null {
    const key = this.data.get("key");
    if (!key || this.data.get("erased") || this.data.get("merged_into")) return null;
    const touches = this.data.touches();
    const consent = this.data.json<ConsentState>("consent");
    const time = (name: string) => {
      const at = this.data.number(name);
      return at === undefined ? null : new Date(at).toISOString();
    };
    return {
      key,
      identities: this.data.identityRows(),
      traits: this.data.traitValues(),
      counters: this.data.counterValues(),
      firstSeen: time("first_seen"),
      lastSeen: time("last_seen"),
      campaigns: { first: touches[0], last: touches.at(-1), touches },
      segments: this.data.memberOf(),
      device: this.data.json<DeviceSummary>("device") ?? null,
      consent: consent ? { ...consent, explicit: this.data.json<ExplicitChoice>("explicit") } : null,
      recentEvents: this.data.recentEvents(50),
      predictions: predictionView(this.predictionScores()),
    };
  }

  /** Stores events (already deduplicated); returns the counters' new values. */
  private store(events: CollectedEvent[], now: number): Map<string, number> {
    const items = events.map((event) => ({ messageId: event.messageId, effects: effectsOf(event) }));
    for (const { effects } of items) {
      const forRules = segmentEventOf(effects.recent);
      if (forRules) this.segmentEvents?.push(forRules);
    }
    return this.data.store(items, now);
  }

  private forgetData(): void {
    this.segmentEvents = undefined;
    this.data.forgetData();
  }

  private prune(now: number): void {
    this.segmentEvents = undefined;
    this.data.prune(this.data.number("history_ms") ?? 0, now);
  }

  /**
   * Scores the profile with every live model (worker/predictions/score.ts) and keeps the scores
   * for the view and the rules. Without personalisation consent nothing is scored and no score is
   * kept. (While a model is live, the profile keeps the event history its features read: `history_ms`.)
   */
  private scorePredictions(models: readonly ModelDef[], consent: ConsentState, now: number): void {
    if (models.length === 0 || !consent.purposes.personalization || !this.data.get("key")) {
      this.data.delete("predictions");
      return;
    }
    const input = this.segmentInput();
    const scores = scoreProfile(
      models,
      { events: featureEventsOf(input.events), firstSeen: input.firstSeen, lastSeen: input.lastSeen, firstSource: this.data.firstTouchSource(), device: input.context.device?.type },
      now,
    );
    this.data.set("predictions", JSON.stringify({ at: now, scores }));
  }

  private predictionScores(): { at: number; scores: Record<string, PredictionScore> } | undefined {
    return this.data.json<{ at: number; scores: Record<string, PredictionScore> }>("predictions");
  }

  /** Advertising consent withdrawn: click ids leave the stored campaign touches and page URLs. */
  private stripAdIdentifiers(): void {
    for (const row of this.data.campaignRows()) {
      this.data.rewriteCampaign(row.messageId, JSON.stringify(stripTouch(JSON.parse(row.body) as CampaignTouch)));
    }
    for (const row of this.data.eventRows()) {
      const event = JSON.parse(row.body) as RecentEvent;
      const url = event.page?.url;
      const stripped = stripClickIds(url);
      if (stripped !== url) this.data.rewriteEvent(row.messageId, JSON.stringify({ ...event, page: { ...event.page, url: stripped as string | undefined } }));
    }
    this.segmentEvents = undefined;
  }

  /**
   * The definitions a request evaluates: the bundle it carries (kept, with its version), or the
   * held one when the request names its version; undefined when it names another (send the
   * bundle). No definitions at all: no segments, and the held scores left as they are.
   */
  private definitions(sent: ApplyRequest["definitions"]): HeldDefinitions | undefined {
    if (!sent) return { segments: [] };
    if ("segments" in sent) {
      const held = { segments: sent.segments, models: sent.models ?? [] };
      if (this.data.get("definitions_version") !== sent.version) {
        this.data.transaction(() => {
          this.data.set("segments", JSON.stringify(held.segments));
          this.data.set("models", JSON.stringify(held.models));
          this.data.set("history_ms", String(Math.max(historyNeeded(held.segments), held.models.length > 0 ? FEATURE_HISTORY_MS : 0)));
          this.data.set("definitions_version", sent.version);
        });
        this.held = held;
      }
      return held;
    }
    return this.data.get("definitions_version") === sent.version ? (this.heldDefinitions() ?? { segments: [], models: [] }) : undefined;
  }

  /** The definitions this profile holds (parsed once per object). */
  private heldDefinitions(): HeldDefinitions | undefined {
    if (!this.held) {
      const segments = this.data.json<SegmentDef[]>("segments");
      if (segments) this.held = { segments, models: this.data.json<ModelDef[]>("models") ?? [] };
    }
    return this.held;
  }

  private expiresAt(): number | undefined {
    const last = this.data.number("last_seen");
    const days = this.data.number("retention_days");
    return last === undefined || days === undefined ? undefined : last + days * DAY;
  }

  /** One alarm serves expiry, the next window edge and an owed send: the earliest. */
  private scheduleAlarm(): void {
    const edges = [this.data.number("edge_at"), this.data.number("outbox_at")].filter((t): t is number => t !== undefined);
    const due = alarmTime(this.expiresAt(), edges.length > 0 ? Math.min(...edges) : undefined, this.alarmAt);
    if (due === undefined) return;
    this.alarmAt = due;
    void this.ctx.storage.setAlarm(due);
  }

  /** Sets the alarm to what is due now that nothing is owed (or deletes it when nothing is). */
  private resetAlarm(): void {
    this.alarmAt = undefined;
    const edge = this.data.number("edge_at");
    const due = alarmTime(this.expiresAt(), edge, undefined);
    if (due === undefined) {
      void this.ctx.storage.deleteAlarm();
      return;
    }
    this.alarmAt = due;
    void this.ctx.storage.setAlarm(due);
  }

  /** The profile as rules see it, with the last request's context. */
  private segmentInput(): SegmentInput {
    this.segmentEvents ??= this.data.eventRows().flatMap((row) => segmentEventOf(JSON.parse(row.body) as RecentEvent) ?? []);
    const consent = this.data.json<ConsentState>("consent");
    return {
      traits: this.data.traitValues(),
      events: this.segmentEvents,
      context: this.data.json<SegmentContext>("context") ?? {},
      firstSeen: this.data.number("first_seen"),
      lastSeen: this.data.number("last_seen"),
      consent: consent?.purposes ?? {},
      segments: Object.fromEntries(this.data.memberOf().map((id) => [id, true])),
      predictions: this.predictionScores()?.scores ?? {},
    };
  }

  /**
   * Evaluates every segment at `now`, stores the memberships and the next window edge, and owes
   * the pipeline the changes (memberships index, `Segment Entered/Exited`); returns the changes.
   */
  private refreshSegments(segments: SegmentDef[], now: number): MembershipChange[] {
    const consent = this.data.json<ConsentState>("consent");
    const allowed = Boolean(consent?.purposes.personalization);
    const input = this.segmentInput();
    const result = allowed ? evaluateSegments(segments, input, now) : {};
    const diff = diffMemberships(this.data.memberOf(), result, now, Boolean(consent) && !allowed);
    this.data.transaction(() => {
      for (const segmentId of diff.enter) this.data.enterSegment(segmentId, segments.find((d) => d.id === segmentId)!.version, now);
      for (const segmentId of diff.leave) this.data.leaveSegment(segmentId);
      const edge = allowed ? nextSegmentEdge(segments, { ...input, segments: result }, now) : undefined;
      if (edge === undefined) this.data.delete("edge_at");
      else this.data.set("edge_at", String(edge));
      const key = this.data.get("key");
      if (key && diff.changes.length > 0) this.owe(membershipMessages(key, this.data.get("site_id") ?? "", diff.changes), Date.now());
    });
    return diff.changes;
  }

  /**
   * Writes owed messages (inside the caller's transaction) and makes sure the alarm will send
   * them if the send that follows the change does not happen.
   */
  private owe(messages: PipelineMessage[], now: number): void {
    if (messages.length === 0) return;
    this.data.owe(messages, now);
    if (this.data.get("outbox_at") === undefined) this.data.set("outbox_at", String(now + OUTBOX_GRACE_MS));
  }

  /** Sends owed messages after the current call returns; a failure leaves them to the alarm. */
  private flushSoon(): void {
    if (this.data.get("outbox_at") === undefined) return;
    this.scheduleAlarm();
    this.flush().catch((error) => console.warn("profile outbox: send failed, the alarm retries", String(error)));
  }

  /**
   * Sends the outbox oldest first and deletes what the queue took; throws when the queue refuses
   * (what is left is sent by the alarm, with a growing delay).
   */
  private flush(): Promise<void> {
    this.flushing ??= (async () => {
      try {
        for (;;) {
          const batch = this.data.owed(100);
          if (batch.length === 0) break;
          await enqueue(this.env.EVENTS, batch.map((b) => b.message));
          this.data.acknowledge(batch.map((b) => b.id));
        }
        this.data.delete("outbox_attempts");
        if (this.data.get("outbox_at") !== undefined) {
          this.data.delete("outbox_at");
          this.resetAlarm();
        }
      } catch (error) {
        const attempt = (this.data.number("outbox_attempts") ?? 0) + 1;
        this.data.set("outbox_attempts", String(attempt));
        this.data.set("outbox_at", String(Date.now() + outboxRetryDelay(attempt - 1)));
        this.alarmAt = undefined;
        this.scheduleAlarm();
        throw error;
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }
}
