/**
 * ProfileStore: one Durable Object per profile (DESIGN.md §2), on SQLite storage. It is the single
 * writer of that profile, so counts are exact and a messageId is applied once however many times
 * and however concurrently it is delivered: `apply` runs without awaiting, so no two calls
 * interleave. The rules of what an event does live in `effects.ts`; this class only stores them.
 */
import { DurableObject } from "cloudflare:workers";
import type { CollectedEvent } from "../collect/normalise";
import type { ProfileKey } from "../identity/keys";
import { effectsOf, type CampaignTouch, type RecentEvent } from "./effects";

/** How many recent events a profile keeps (segment windows will widen this, DESIGN.md §3). */
export const RECENT_EVENTS = 200;
/** How long a messageId is remembered for deduplication. */
export const DEDUPE_DAYS = 30;

export interface ApplyResult {
  applied: number;
  duplicates: number;
}

/** A profile as the admin API and the visitor's own `/v1/me` show it. */
export interface ProfileView {
  key: string;
  identities: { kind: string; value: string }[];
  traits: Record<string, unknown>;
  counters: Record<string, number>;
  firstSeen: string;
  lastSeen: string;
  campaigns: { first?: CampaignTouch; last?: CampaignTouch; touches: CampaignTouch[] };
  segments: string[];
  consent: null;
  recentEvents: RecentEvent[];
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS identities (kind TEXT NOT NULL, value TEXT NOT NULL, first_seen INTEGER NOT NULL, PRIMARY KEY (kind, value));
  CREATE TABLE IF NOT EXISTS traits (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS seen (message_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS seen_at ON seen (at);
  CREATE TABLE IF NOT EXISTS events (message_id TEXT PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS events_at ON events (at);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, count INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS campaigns (message_id TEXT PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS campaigns_at ON campaigns (at);
`;

export class ProfileStore extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(SCHEMA);
    });
  }

  /** Applies events (any order, any repetition) to the profile; each messageId counts once. */
  apply(key: ProfileKey, events: CollectedEvent[]): ApplyResult {
    let applied = 0;
    this.ctx.storage.transactionSync(() => {
      this.setMetaOnce("key", key);
      for (const event of events) {
        const fresh = this.sql.exec("INSERT INTO seen (message_id, at) VALUES (?, ?) ON CONFLICT DO NOTHING RETURNING 1", event.messageId, Date.now());
        if (fresh.toArray().length === 0) continue;
        applied++;
        this.store(event);
      }
      if (applied > 0) this.prune();
    });
    return { applied, duplicates: events.length - applied };
  }

  /**
   * Records on an anonymous profile that its browser identified as `userId`: the user's events go
   * to the user's profile, and this link lets the browser's own view (`/v1/me`) follow them.
   */
  link(key: ProfileKey, userId: string): void {
    this.ctx.storage.transactionSync(() => {
      this.setMetaOnce("key", key);
      this.setMetaOnce("first_seen", String(Date.now()));
      this.setMetaOnce("last_seen", String(Date.now()));
      this.sql.exec("INSERT INTO identities (kind, value, first_seen) VALUES ('userId', ?, ?) ON CONFLICT DO NOTHING", userId, Date.now());
    });
  }

  /** The userId this anonymous profile was identified as, if any. */
  linkedUserId(): string | undefined {
    return this.sql.exec<{ value: string }>("SELECT value FROM identities WHERE kind = 'userId' ORDER BY first_seen DESC LIMIT 1").toArray()[0]?.value;
  }

  /** The profile, or null when nothing was ever applied to this object. */
  view(): ProfileView | null {
    const key = this.meta("key");
    if (!key) return null;
    const traits: Record<string, unknown> = {};
    for (const row of this.sql.exec<{ name: string; value: string }>("SELECT name, value FROM traits ORDER BY name")) {
      traits[row.name] = JSON.parse(row.value);
    }
    const counters: Record<string, number> = {};
    for (const row of this.sql.exec<{ name: string; count: number }>("SELECT name, count FROM counters ORDER BY name")) {
      counters[row.name] = row.count;
    }
    const touches = this.sql
      .exec<{ body: string }>("SELECT body FROM campaigns ORDER BY at, message_id")
      .toArray()
      .map((row) => JSON.parse(row.body) as CampaignTouch);
    return {
      key,
      identities: this.sql.exec<{ kind: string; value: string }>("SELECT kind, value FROM identities ORDER BY first_seen, kind").toArray(),
      traits,
      counters,
      firstSeen: new Date(Number(this.meta("first_seen"))).toISOString(),
      lastSeen: new Date(Number(this.meta("last_seen"))).toISOString(),
      campaigns: { first: touches[0], last: touches.at(-1), touches },
      segments: [],
      consent: null,
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
        now,
      );
    }
    for (const name of effects.counters) {
      this.sql.exec("INSERT INTO counters (name, count) VALUES (?, 1) ON CONFLICT (name) DO UPDATE SET count = count + 1", name);
    }
    if (effects.campaign) {
      this.sql.exec("INSERT INTO campaigns (message_id, at, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", event.messageId, effects.at, JSON.stringify(effects.campaign));
    }
    this.sql.exec("INSERT INTO events (message_id, at, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", event.messageId, effects.at, JSON.stringify(effects.recent));
    const first = Number(this.meta("first_seen") ?? Infinity);
    const last = Number(this.meta("last_seen") ?? -Infinity);
    if (effects.at < first) this.setMeta("first_seen", String(effects.at));
    if (effects.at > last) this.setMeta("last_seen", String(effects.at));
  }

  /** Keeps the recent-event list, campaign touches and the dedupe memory bounded. */
  private prune(): void {
    this.sql.exec(
      "DELETE FROM events WHERE message_id NOT IN (SELECT message_id FROM events ORDER BY at DESC, message_id DESC LIMIT ?)",
      RECENT_EVENTS,
    );
    this.sql.exec(
      "DELETE FROM campaigns WHERE message_id NOT IN (SELECT message_id FROM campaigns ORDER BY at DESC, message_id DESC LIMIT ?) AND at > (SELECT MIN(at) FROM campaigns)",
      RECENT_EVENTS,
    );
    this.sql.exec("DELETE FROM seen WHERE at < ?", Date.now() - DEDUPE_DAYS * 86_400_000);
  }

  private meta(name: string): string | undefined {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE name = ?", name).toArray()[0]?.value;
  }

  private setMeta(name: string, value: string): void {
    this.sql.exec("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value", name, value);
  }

  private setMetaOnce(name: string, value: string): void {
    this.sql.exec("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING", name, value);
  }
}
