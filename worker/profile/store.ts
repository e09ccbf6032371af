/**
 * ProfileStore: one Durable Object per profile (DESIGN.md §2), on SQLite storage. It is the single
 * writer of that profile, so counts are exact and a messageId is applied once however many times
 * and however concurrently it is delivered: every method runs without awaiting, so no two calls
 * interleave. It also holds the profile's consent (the authority for it, since it remembers the
 * visitor's explicit choice), the forward pointer left by a merge, and the erasure tombstone.
 * What an event does lives in `effects.ts`, consent rules in `consent/`, merge rules in `merge.ts`.
 */
import { DurableObject } from "cloudflare:workers";
import type { CollectedEvent } from "../collect/normalise";
import { stripTouch, withConsent } from "../consent/enforce";
import { mayProfile, PURPOSES, type ConsentState } from "../consent/purposes";
import { combineExplicit, resolveConsent, samePurposes, type ExplicitChoice } from "../consent/resolve";
import { parseProfileKey, type ProfileKey } from "../identity/keys";
import { forgetMessage, membershipMessages, type PipelineMessage } from "../pipeline/messages";
import { audienceMatcher, contextOnlyInput } from "../decisions/audience";
import { decide, decideWithoutProfile } from "../decisions/choose";
import { exposureEvent } from "../decisions/exposure";
import { effectsOf, type CampaignTouch, type RecentEvent } from "./effects";
import {
  DAY,
  DEDUPE_DAYS,
  RECENT_EVENTS,
  type ApplyRequest,
  type ApplyResult,
  type MembershipChange,
  type ProfileDecideRequest,
  type ProfileDecision,
  type ProfileView,
} from "./contract";
import { ALARM_SLACK, DATA_TABLES, MAX_EVENTS, PRUNE_EVERY, SCHEMA } from "./tables";
import { countersToAdd, type ProfileSnapshot } from "./merge";
import { evaluateSegments, historyNeeded, nextSegmentEdge, type SegmentDef } from "../segments/membership";
import { explain, segmentContextOf, segmentEventOf, compileRule, type Explanation, type Rule, type SegmentContext, type SegmentEvent, type SegmentInput } from "../segments";

export * from "./contract";

export class ProfileStore extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Events stored since the last prune (in memory: an eviction only delays the next prune). */
  private sincePrune = PRUNE_EVERY;
  /** The alarm time last set by this instance. */
  private alarmAt?: number;
  /**
   * The stored events as rules see them, kept in memory between calls (parsed once, appended as
   * events arrive, dropped whenever the table is pruned or rewritten).
   */
  private segmentEvents?: SegmentEvent[];

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(SCHEMA);
    });
  }

  /** Applies events (any order, any repetition) under the resolved consent; each messageId counts once. */
  apply(request: ApplyRequest): ApplyResult {
    const { key, events, policy } = request;
    const previous = this.json<ConsentState>("consent");
    const explicit = combineExplicit(this.json<ExplicitChoice>("explicit"), request.signals.explicit);
    const consent = resolveConsent(policy, { ...request.signals, explicit }, Date.now());
    // A change is worth a ledger entry when the purposes move, or when a profile's first consent
    // comes from a signal of the visitor's (not from the site's defaults or the region alone).
    const consentChanged = previous
      ? !samePurposes(previous, consent)
      : PURPOSES.some((p) => consent.sources[p] !== "default" && consent.sources[p] !== "site" && consent.sources[p] !== "region");
    const base = { applied: 0, duplicates: 0, consent, consentChanged, membershipChanges: [] as MembershipChange[], segments: [] as string[] };
    if (this.meta("erased")) return { ...base, consentChanged: false, erased: true };
    const target = this.meta("merged_into");
    if (target) return { ...base, consentChanged: false, forwardedTo: target as ProfileKey };

    // A refusal that rests only on the region or the site's defaults (a request that carries no
    // signal, e.g. a server event or a new browser) does not undo a consent the profile holds: this
    // request's events are not kept, the profile and its consent stay.
    const strong = (p: (typeof PURPOSES)[number]) => ["explicit", "tcf", "gpp", "gpc"].includes(consent.sources[p]);
    if (!mayProfile(consent) && previous && mayProfile(previous) && !strong("analytics") && !strong("personalization")) {
      return { ...base, consentChanged: false };
    }
    let applied = 0;
    let forgotten = false;
    this.ctx.storage.transactionSync(() => {
      if (explicit) this.setMeta("explicit", JSON.stringify(explicit));
      this.setMeta("consent", JSON.stringify(consent));
      if (!mayProfile(consent)) {
        forgotten = this.meta("key") !== undefined;
        this.forgetData();
        return;
      }
      if (previous?.purposes.advertising && !consent.purposes.advertising) this.stripAdIdentifiers();
      this.setMetaOnce("key", key);
      this.setMeta("retention_days", String(request.retentionDays));
      if (request.siteId) this.setMeta("site_id", request.siteId);
      for (const incoming of events) {
        const fresh = this.sql.exec("INSERT INTO seen (message_id, at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1", incoming.messageId, Date.now());
        if (fresh.toArray().length === 0) continue;
        this.store(withConsent(incoming, consent));
        applied++;
      }
      this.sincePrune += applied;
      if (this.sincePrune >= PRUNE_EVERY) this.prune();
    });
    let membershipChanges: MembershipChange[] = [];
    // Segments are evaluated when the workspace has some (or this profile is still in one of a
    // segment since deleted); with none, nothing is read back.
    const segments = request.segments ?? [];
    const evaluate = segments.length > 0 || this.memberOf().length > 0;
    if (evaluate) {
      const last = events.at(-1);
      if (last) this.setMeta("context", JSON.stringify(segmentContextOf(last.context)));
      const definitions = JSON.stringify(segments);
      if (this.meta("segments") !== definitions) {
        this.setMeta("segments", definitions);
        this.setMeta("history_ms", String(historyNeeded(segments)));
      }
      membershipChanges = this.refreshSegments(segments, Date.now());
    }
    if (applied > 0 || evaluate) this.scheduleAlarm();
    return { ...base, applied, duplicates: events.length - applied, membershipChanges, segments: this.memberOf(), forgotten };
  }

  /**
   * Re-evaluates segments (a new or changed segment's backfill) at `now`; returns what changed.
   * Without personalisation consent a profile is in no segment.
   */
  evaluate(segments: SegmentDef[], now = Date.now()): MembershipChange[] {
    if (!this.meta("key") || this.meta("erased") || this.meta("merged_into")) return [];
    this.setMeta("segments", JSON.stringify(segments));
    this.setMeta("history_ms", String(historyNeeded(segments)));
    const changes = this.refreshSegments(segments, now);
    this.scheduleAlarm();
    return changes;
  }

  /**
   * Decides the requested slots for this profile (read-your-writes: after the events of the same
   * request). Assignments are sticky; a first exposure is recorded as an `Experiment Viewed` event
   * (once: its messageId is derived from the experience and the profile) and returned for the
   * archive. Without personalisation consent the profile is not used (contextual decisions only).
   */
  decide(request: ProfileDecideRequest): ProfileDecision {
    const target = this.meta("merged_into");
    if (target) return { decisions: {}, exposures: [], assignments: {}, exposureEvents: [], forwardedTo: target as ProfileKey };
    const key = this.meta("key");
    const consent = this.json<ConsentState>("consent");
    if (!key || this.meta("erased") || this.meta("merged_into") || !consent || !mayProfile(consent)) {
      return { ...decideWithoutProfile(request), exposureEvents: [] };
    }
    const input = { ...this.segmentInput(), context: request.context };
    const assignments = Object.fromEntries(this.sql.exec<{ experience_id: string; variant: string }>("SELECT experience_id, variant FROM assignments").toArray().map((r) => [r.experience_id, r.variant]));
    const result = decide({
      ...request,
      profile: { key, assignments, matches: audienceMatcher(input, request.now), traits: input.traits },
      personalization: consent.purposes.personalization,
      contextMatches: audienceMatcher(contextOnlyInput(request.context), request.now),
      context: request.context as Record<string, unknown>,
    });
    const exposureEvents: CollectedEvent[] = [];
    this.ctx.storage.transactionSync(() => {
      for (const [experienceId, variant] of Object.entries(result.assignments)) {
        this.sql.exec("INSERT INTO assignments (experience_id, variant, at) VALUES (?, ?, ?) ON CONFLICT (experience_id) DO UPDATE SET variant = excluded.variant, at = excluded.at", experienceId, variant, request.now);
      }
      for (const exposure of result.exposures) {
        if (!exposure.first) continue;
        const name = request.experiences.find((e) => e.id === exposure.experienceId)?.name;
        const event = withConsent(exposureEvent(key, exposure, name, request.now), consent);
        const fresh = this.sql.exec("INSERT INTO seen (message_id, at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1", event.messageId, Date.now()).toArray();
        if (fresh.length === 0) continue;
        this.store(event);
        exposureEvents.push(event);
      }
    });
    return { decisions: result.decisions, exposures: result.exposures, assignments: result.assignments, exposureEvents };
  }

  /** For `explain`: which clauses of a segment held for this profile now, with the values seen. */
  explainRule(rule: Rule): Explanation | null {
    if (!this.meta("key")) return null;
    return explain(rule, this.segmentInput(), Date.now());
  }

  /** Whether a rule (not yet saved) matches this profile now: the segment preview's sample. */
  matchesRule(rule: Rule): boolean {
    return this.meta("key") !== undefined && compileRule(rule)(this.segmentInput(), Date.now());
  }

  /**
   * First step of a merge into `target`: leaves the forward pointer (from now on this profile's
   * events are the target's) and returns everything the profile holds (null when nothing). Repeatable: a retried
   * merge gets the same snapshot, until `finishMerge` clears the data.
   */
  beginMerge(target: ProfileKey): ProfileSnapshot | null {
    if (this.meta("erased")) return null;
    const pointer = this.meta("merged_into");
    if (pointer && pointer !== target) return null;
    // Even a browser with no profile yet now leads to the user: its later events land there.
    this.setMeta("merged_into", target);
    if (!this.meta("key")) return null;
    return this.snapshot();
  }

  /** Everything the profile holds, for an access request; null when it holds nothing. */
  exportData(): (ProfileSnapshot & { consent?: ConsentState; mergedInto?: string; mergedFrom: string[] }) | null {
    if (!this.meta("key")) return null;
    return { ...this.snapshot(), consent: this.json<ConsentState>("consent"), mergedInto: this.meta("merged_into"), mergedFrom: this.mergedFrom() };
  }

  private snapshot(): ProfileSnapshot {
    const key = this.meta("key")!;
    const rows = <T>(query: string) => this.sql.exec(query).toArray() as T[];
    return {
      key,
      identities: rows("SELECT kind, value FROM identities"),
      traits: rows("SELECT name, value, updated_at AS updatedAt FROM traits"),
      counters: Object.fromEntries(rows<{ name: string; count: number }>("SELECT name, count FROM counters").map((r) => [r.name, r.count])),
      seen: rows("SELECT message_id AS messageId, at FROM seen"),
      events: rows("SELECT message_id AS messageId, at, body FROM events"),
      campaigns: rows("SELECT message_id AS messageId, at, body FROM campaigns"),
      assignments: rows("SELECT experience_id AS experienceId, variant, at FROM assignments"),
      firstSeen: this.number("first_seen"),
      lastSeen: this.number("last_seen"),
      explicit: this.json<ExplicitChoice>("explicit"),
    };
  }

  /** Takes in a merged profile, once per source, counting nothing twice. */
  absorb(key: ProfileKey, snapshot: ProfileSnapshot): { forwardedTo?: ProfileKey } {
    if (this.meta("erased")) return {};
    const target = this.meta("merged_into");
    if (target) return { forwardedTo: target as ProfileKey };
    this.ctx.storage.transactionSync(() => {
      const done = this.sql.exec("INSERT INTO merged_from (key, at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1", snapshot.key, Date.now());
      if (done.toArray().length === 0) return;
      this.setMetaOnce("key", key);
      const alreadySeen = new Set<string>();
      for (const { messageId, at } of snapshot.seen) {
        const fresh = this.sql.exec("INSERT INTO seen (message_id, at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1", messageId, at).toArray();
        if (fresh.length === 0) alreadySeen.add(messageId);
      }
      for (const [name, count] of Object.entries(countersToAdd(snapshot, alreadySeen))) {
        this.sql.exec("INSERT INTO counters (name, count) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET count = count + excluded.count", name, count);
      }
      // The newer value of a trait wins, wherever it was set.
      for (const t of snapshot.traits) {
        this.sql.exec(
          "INSERT INTO traits (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at WHERE excluded.updated_at > traits.updated_at",
          t.name,
          t.value,
          t.updatedAt,
        );
      }
      const source = parseProfileKey(snapshot.key);
      const sourceIdentity = source ? [{ kind: source.kind === "anon" ? "anonymousId" : "userId", value: source.id }] : [];
      for (const i of [...snapshot.identities, ...sourceIdentity]) {
        if (i.value) this.sql.exec("INSERT INTO identities (kind, value, first_seen) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", i.kind, i.value, Date.now());
      }
      this.segmentEvents = undefined;
      for (const e of snapshot.events) this.sql.exec("INSERT INTO events (message_id, at, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", e.messageId, e.at, e.body);
      for (const c of snapshot.campaigns) this.sql.exec("INSERT INTO campaigns (message_id, at, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", c.messageId, c.at, c.body);
      // A variant already seen stays the visitor's: the target's own assignment wins a conflict.
      for (const a of snapshot.assignments ?? []) {
        this.sql.exec("INSERT INTO assignments (experience_id, variant, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", a.experienceId, a.variant, a.at);
      }
      if (snapshot.firstSeen !== undefined && snapshot.firstSeen < (this.number("first_seen") ?? Infinity)) this.setMeta("first_seen", String(snapshot.firstSeen));
      if (snapshot.lastSeen !== undefined && snapshot.lastSeen > (this.number("last_seen") ?? -Infinity)) this.setMeta("last_seen", String(snapshot.lastSeen));
      const explicit = combineExplicit(this.json<ExplicitChoice>("explicit"), snapshot.explicit);
      if (explicit) this.setMeta("explicit", JSON.stringify(explicit));
      this.prune();
    });
    return {};
  }

  /** Last step of a merge: the data now lives in the target; only the pointer stays here. */
  finishMerge(target: ProfileKey): void {
    if (this.meta("merged_into") !== target) return;
    this.ctx.storage.transactionSync(() => this.forgetData());
  }

  /** Where this profile's events go now, if it was merged. */
  mergedInto(): ProfileKey | undefined {
    return this.meta("merged_into") as ProfileKey | undefined;
  }

  /** The keys of profiles merged into this one. */
  mergedFrom(): string[] {
    return this.sql.exec<{ key: string }>("SELECT key FROM merged_from ORDER BY at").toArray().map((r) => r.key);
  }

  /**
   * Erases the profile: all storage and its alarm, leaving only a tombstone, so a replayed or
   * late event cannot bring the subject back.
   */
  async erase(): Promise<void> {
    this.alarmAt = undefined;
    this.segmentEvents = undefined;
    // Data and tombstone in one transaction: no moment where neither exists.
    this.ctx.storage.transactionSync(() => {
      for (const table of [...DATA_TABLES, "merged_from", "meta"]) this.sql.exec(`DELETE FROM ${table}`);
      this.setMeta("erased", String(Date.now()));
    });
    await this.ctx.storage.deleteAlarm();
  }

  /**
   * The profile's alarm: expiry after the site's days of inactivity, or a segment window edge —
   * the moment a membership changes only because time passed. Changes found here are sent to the
   * queue directly, with the edge's exact time.
   */
  override async alarm(): Promise<void> {
    this.alarmAt = undefined;
    const expires = this.expiresAt();
    if (expires !== undefined && Date.now() >= expires) {
      const key = this.meta("key");
      this.segmentEvents = undefined;
      await this.ctx.storage.deleteAll();
      this.sql.exec(SCHEMA);
      // Its memberships and index row leave D1 too (its raw events are past retention, purged daily).
      if (key) this.setMeta("outbox", JSON.stringify([forgetMessage(key, false)]));
      await this.flushOutbox();
      return;
    }
    // Changes found by an earlier run whose send failed go first (that run threw, so it is retried).
    await this.flushOutbox();
    const edge = this.number("edge_at");
    const segments = this.json<SegmentDef[]>("segments");
    if (edge !== undefined && segments && Date.now() >= edge) {
      this.sql.exec("DELETE FROM meta WHERE name = 'edge_at'");
      const changes = this.refreshSegments(segments, edge);
      // Written with the memberships (no await in between), so a failed send loses nothing.
      if (changes.length > 0) this.setMeta("outbox", JSON.stringify(membershipMessages(this.meta("key")!, this.meta("site_id") ?? "", changes)));
      await this.flushOutbox();
    }
    this.scheduleAlarm();
  }

  /** Sends the alarm's pending queue messages; throws (and keeps them) when the queue refuses. */
  private async flushOutbox(): Promise<void> {
    const outbox = this.json<PipelineMessage[]>("outbox");
    if (!outbox?.length) return;
    await this.env.EVENTS.sendBatch(outbox.map((body) => ({ body, contentType: "json" as const })));
    this.sql.exec("DELETE FROM meta WHERE name = 'outbox'");
  }

  /** The profile, or null when nothing is held (never seen, cookieless, merged away or erased). */
  view(): ProfileView | null {
    const key = this.meta("key");
    if (!key || this.meta("erased") || this.meta("merged_into")) return null;
    // fromEntries defines properties: a trait named "__proto__" stays a trait.
    const traits = Object.fromEntries(this.sql.exec<{ name: string; value: string }>("SELECT name, value FROM traits ORDER BY name").toArray().map((r) => [r.name, JSON.parse(r.value)]));
    const counters = Object.fromEntries(this.sql.exec<{ name: string; count: number }>("SELECT name, count FROM counters ORDER BY name").toArray().map((r) => [r.name, r.count]));
    const touches = this.sql
      .exec<{ body: string }>("SELECT body FROM campaigns ORDER BY at, message_id")
      .toArray()
      .map((row) => JSON.parse(row.body) as CampaignTouch);
    const consent = this.json<ConsentState>("consent");
    return {
      key,
      identities: this.sql.exec<{ kind: string; value: string }>("SELECT kind, value FROM identities ORDER BY first_seen, kind").toArray(),
      traits,
      counters,
      firstSeen: new Date(this.number("first_seen") ?? 0).toISOString(),
      lastSeen: new Date(this.number("last_seen") ?? 0).toISOString(),
      campaigns: { first: touches[0], last: touches.at(-1), touches },
      segments: this.memberOf(),
      consent: consent ? { ...consent, explicit: this.json<ExplicitChoice>("explicit") } : null,
      recentEvents: this.sql
        .exec<{ body: string }>("SELECT body FROM events ORDER BY at DESC, message_id DESC LIMIT 50")
        .toArray()
        .map((row) => JSON.parse(row.body) as RecentEvent),
    };
  }

  private store(event: CollectedEvent): void {
    const effects = effectsOf(event);
    const now = Date.now();
    for (const identity of effects.identities) {
      this.sql.exec("INSERT INTO identities (kind, value, first_seen) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", identity.kind, identity.value, now);
    }
    for (const [name, value] of Object.entries(effects.traits ?? {})) {
      this.sql.exec(
        "INSERT INTO traits (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        name,
        JSON.stringify(value ?? null),
        effects.at,
      );
    }
    for (const name of effects.counters) {
      this.sql.exec("INSERT INTO counters (name, count) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET count = count + 1", name);
    }
    if (effects.campaign) {
      this.sql.exec("INSERT INTO campaigns (message_id, at, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", event.messageId, effects.at, JSON.stringify(effects.campaign));
    }
    this.sql.exec("INSERT INTO events (message_id, at, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", event.messageId, effects.at, JSON.stringify(effects.recent));
    const forRules = segmentEventOf(effects.recent);
    if (forRules) this.segmentEvents?.push(forRules);
    if (effects.at < (this.number("first_seen") ?? Infinity)) this.setMeta("first_seen", String(effects.at));
    if (effects.at > (this.number("last_seen") ?? -Infinity)) this.setMeta("last_seen", String(effects.at));
  }

  /** Drops everything that identifies or describes the visitor; consent and pointers stay. */
  private forgetData(): void {
    this.segmentEvents = undefined;
    for (const table of DATA_TABLES) this.sql.exec(`DELETE FROM ${table}`);
    for (const name of ["key", "first_seen", "last_seen"]) this.sql.exec("DELETE FROM meta WHERE name = ?", name);
  }

  /** Advertising consent withdrawn: click ids leave the stored campaign touches. */
  private stripAdIdentifiers(): void {
    for (const row of this.sql.exec<{ message_id: string; body: string }>("SELECT message_id, body FROM campaigns").toArray()) {
      this.sql.exec("UPDATE campaigns SET body = ? WHERE message_id = ?", JSON.stringify(stripTouch(JSON.parse(row.body) as CampaignTouch)), row.message_id);
    }
  }

  /** Keeps the recent-event list, campaign touches and the dedupe memory bounded. */
  private prune(): void {
    this.sincePrune = 0;
    this.segmentEvents = undefined;
    // Events stay while a segment's window may need them (at least the newest RECENT_EVENTS,
    // at most MAX_EVENTS).
    const history = this.number("history_ms") ?? 0;
    const keepSince = Number.isFinite(history) ? Date.now() - history : -Infinity;
    this.sql.exec(
      "DELETE FROM events WHERE at < ? AND message_id NOT IN (SELECT message_id FROM events ORDER BY at DESC, message_id DESC LIMIT ?)",
      keepSince,
      RECENT_EVENTS,
    );
    this.sql.exec("DELETE FROM events WHERE message_id NOT IN (SELECT message_id FROM events ORDER BY at DESC, message_id DESC LIMIT ?)", MAX_EVENTS);
    this.sql.exec(
      "DELETE FROM campaigns WHERE message_id NOT IN (SELECT message_id FROM campaigns ORDER BY at DESC, message_id DESC LIMIT ?) AND at > (SELECT MIN(at) FROM campaigns)",
      RECENT_EVENTS,
    );
    this.sql.exec("DELETE FROM seen WHERE at < ?", Date.now() - DEDUPE_DAYS * DAY);
  }

  private expiresAt(): number | undefined {
    const last = this.number("last_seen");
    const days = this.number("retention_days");
    return last === undefined || days === undefined ? undefined : last + days * DAY;
  }

  /** One alarm serves both expiry and the next segment window edge: the earlier of the two. */
  private scheduleAlarm(): void {
    const expires = this.expiresAt();
    const edge = this.number("edge_at");
    const due = edge !== undefined && (expires === undefined || edge < expires) ? edge : expires;
    if (due === undefined) return;
    // Expiry may drift by a day (saves a write per event); an edge is exact.
    if (this.alarmAt !== undefined && (due === edge ? this.alarmAt === due : Math.abs(due - this.alarmAt) < ALARM_SLACK)) return;
    this.alarmAt = due;
    void this.ctx.storage.setAlarm(due);
  }

  /** The profile as rules see it, with the last request's context. */
  private segmentInput(): SegmentInput {
    this.segmentEvents ??= this.sql
      .exec<{ body: string }>("SELECT body FROM events")
      .toArray()
      .flatMap((row) => segmentEventOf(JSON.parse(row.body) as RecentEvent) ?? []);
    const events = this.segmentEvents;
    const consent = this.json<ConsentState>("consent");
    return {
      traits: Object.fromEntries(this.sql.exec<{ name: string; value: string }>("SELECT name, value FROM traits").toArray().map((r) => [r.name, JSON.parse(r.value)])),
      events,
      context: this.json<SegmentContext>("context") ?? {},
      firstSeen: this.number("first_seen"),
      lastSeen: this.number("last_seen"),
      consent: consent?.purposes ?? {},
      segments: Object.fromEntries(this.memberOf().map((id) => [id, true])),
    };
  }

  private memberOf(): string[] {
    return this.sql.exec<{ segment_id: string }>("SELECT segment_id FROM memberships ORDER BY segment_id").toArray().map((r) => r.segment_id);
  }

  /** Evaluates every segment at `now`, stores the memberships and the next window edge; returns the changes. */
  private refreshSegments(segments: SegmentDef[], now: number): MembershipChange[] {
    const consent = this.json<ConsentState>("consent");
    const input = this.segmentInput();
    const result = consent?.purposes.personalization ? evaluateSegments(segments, input, now) : {};
    const changes: MembershipChange[] = [];
    this.ctx.storage.transactionSync(() => {
      const current = new Set(this.memberOf());
      for (const [segmentId, member] of Object.entries(result)) {
        if (member && !current.has(segmentId)) {
          const version = segments.find((d) => d.id === segmentId)!.version;
          this.sql.exec("INSERT INTO memberships (segment_id, version, since) VALUES (?, ?, ?)", segmentId, version, now);
          changes.push({ segmentId, member: true, at: now });
        }
      }
      for (const segmentId of current) {
        if (result[segmentId]) continue;
        this.sql.exec("DELETE FROM memberships WHERE segment_id = ?", segmentId);
        // A segment that no longer exists is simply dropped; one that does was left.
        if (segmentId in result || (consent && !consent.purposes.personalization)) changes.push({ segmentId, member: false, at: now });
      }
      const edge = consent?.purposes.personalization ? nextSegmentEdge(segments, { ...input, segments: result }, now) : undefined;
      if (edge === undefined) this.sql.exec("DELETE FROM meta WHERE name = 'edge_at'");
      else this.setMeta("edge_at", String(edge));
    });
    return changes;
  }

  private meta(name: string): string | undefined {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE name = ?", name).toArray()[0]?.value;
  }

  private number(name: string): number | undefined {
    const value = this.meta(name);
    return value === undefined ? undefined : Number(value);
  }

  private json<T>(name: string): T | undefined {
    const value = this.meta(name);
    return value === undefined ? undefined : (JSON.parse(value) as T);
  }

  private setMeta(name: string, value: string): void {
    this.sql.exec("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, value);
  }

  private setMetaOnce(name: string, value: string): void {
    this.sql.exec("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING", name, value);
  }
}
