/**
 * The ProfileStore's storage: its SQLite tables through drizzle's durable-sqlite driver, migrated
 * when the object starts, with the small `meta` values held in memory (read on every call,
 * written through), and so are the small sets every event consults (counter names, identities,
 * memberships: read once per object, kept in step with every write, read again after a failed
 * transaction). An event's rows are written a statement per table, not per row, and the statements
 * every event runs (dedupe, recent events, touches, counters, traits, meta) are plain SQL texts
 * built once per isolate rather than drizzle queries built per call. Every method is synchronous:
 * the object never awaits between reading and writing its state.
 */
import { and, asc, desc, eq, inArray, lt, notInArray, sql } from "drizzle-orm";
import { drizzle, type DrizzleSqliteDODatabase } from "drizzle-orm/durable-sqlite";
import { migrate } from "drizzle-orm/durable-sqlite/migrator";
import type { PipelineMessage } from "../pipeline/messages";
import { DAY, DEDUPE_DAYS, RECENT_EVENTS } from "./contract";
import type { CampaignTouch, Effects, RecentEvent } from "./effects";
import { MAX_ASSIGNMENTS, MAX_COUNTERS, MAX_EVENTS, MAX_IDENTITIES, MAX_MERGED_FROM, MAX_SEEN, MAX_TRAITS, OTHER_EVENTS } from "./limits";
import migrations from "./migrations/migrations.js";
import * as schema from "./schema";
import { assignments, campaigns, counters, events, identities, memberships, mergedFrom, meta, outbox, seen, traits } from "./schema";

/** Profile data, as opposed to the consent, pointers and tombstone kept in `meta`. */
const DATA_TABLES = [identities, traits, seen, events, counters, campaigns, memberships, assignments];
/** Meta values that describe the visitor (they go with the data). */
const DATA_META = ["key", "first_seen", "last_seen", "context", "edge_at", "predictions", "device"];
/** Rows per multi-row statement (3 columns each: well under SQLite's bound-parameter limits). */
const ROWS = 30;

/** Every migration's statements in one script, with drizzle's journal table (built once per isolate; the bench's floor creates it too). */
let schemaScript: string | undefined;
export function freshSchema(): string {
  schemaScript ??= [
    'CREATE TABLE "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric);',
    ...migrations.journal.entries.map((entry) => {
      const text = (migrations.migrations as Record<string, string>)[`m${String(entry.idx).padStart(4, "0")}`];
      if (text === undefined) throw new Error(`missing profile migration ${entry.tag}`);
      return text.split("--> statement-breakpoint").join("\n");
    }),
  ].join("\n");
  return schemaScript;
}

/** `INSERT INTO table (columns) VALUES (?, …), … ` + `tail`, for `rows` rows: built once per shape. */
const insertTexts = new Map<string, string>();
function insertText(table: string, columns: readonly string[], rows: number, tail: string): string {
  const id = `${table}\u0000${rows}\u0000${tail}`;
  let text = insertTexts.get(id);
  if (!text) {
    const row = `(${columns.map(() => "?").join(", ")})`;
    text = `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${Array.from({ length: rows }, () => row).join(", ")} ${tail}`;
    insertTexts.set(id, text);
  }
  return text;
}

/**
 * What an object reads when it starts, in one statement: every meta row (part 0), the last
 * migration the journal records (part 1), and the small sets every event consults: counter names
 * (2), identities (3: kind, value) and memberships (4). Each set is bounded (limits.ts).
 */
const START_READ = [
  "SELECT 0 AS part, name, value FROM meta",
  'SELECT 1, NULL, MAX(created_at) FROM "__drizzle_migrations"',
  "SELECT 2, name, NULL FROM counters",
  "SELECT 3, kind, value FROM identities",
  "SELECT 4, segment_id, NULL FROM memberships",
].join(" UNION ALL ");
type StartRow = { part: number; name: string | null; value: string | number | null };
const TRAIT_UPSERT = "INSERT INTO traits (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
const TRAIT_UPSERT_NEWER = `${TRAIT_UPSERT} WHERE excluded.updated_at > traits.updated_at`;

const chunks = <T>(rows: T[]): T[][] => Array.from({ length: Math.ceil(rows.length / ROWS) }, (_, i) => rows.slice(i * ROWS, (i + 1) * ROWS));
const identityOf = (kind: string, value: string) => `${kind}\u0000${value}`;

export class ProfileStorage {
  readonly db: DrizzleSqliteDODatabase<typeof schema>;
  private values = new Map<string, string>();
  /** Counter names held, identities bound (`kind NUL value`), segments the profile is in (read when the object starts), trait names (on first use). */
  private counterNames?: Set<string>;
  private traitNames?: Set<string>;
  private identityKeys?: Set<string>;
  private members?: string[];
  /** Meta values set (or deleted: undefined) in the running transaction, written when it ends. */
  private pendingMeta?: Map<string, string | undefined>;
  /** This object created its database (and no transaction has failed since): it stored nothing before it started. */
  isNew = false;

  /** `onReload`: the caller's own copies of stored state are stale (a transaction failed). */
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly onReload: () => void = () => {},
  ) {
    this.db = drizzle(storage, { schema });
  }

  /**
   * Brings the tables to the current schema and reads the meta values. An object that starts at the
   * current schema (most of them: an object leaves memory after seconds idle, so a returning
   * visitor's object usually starts again) runs one statement, which reads its meta rows and its
   * journal's last migration together. A new profile's empty database gets every migration in one
   * `exec` and the journal rows drizzle's migrator would have written (a first event pays for one
   * statement, not one per table and index). A profile created before migrations existed has the
   * tables of migration 0000 and no journal: it is recorded at 0000, then migrated like any other.
   */
  migrate(): void {
    const current = migrations.journal.entries.at(-1)!.when;
    try {
      const rows = this.storage.sql.exec<StartRow>(START_READ).toArray();
      const last = rows.find((r) => r.part === 1)?.value;
      if (last !== null && last !== undefined && Number(last) >= current) return this.started(rows);
    } catch (error) {
      // No meta or no journal table: a new database, or one from before migrations (below).
      if (!/no such table/.test(String(error))) throw error;
    }
    const tables = new Set(this.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").toArray().map((r) => r.name));
    if (![...tables].some((name) => !name.startsWith("_cf_") && !name.startsWith("sqlite_"))) {
      this.storage.transactionSync(() => {
        this.storage.sql.exec(freshSchema());
        for (const entry of migrations.journal.entries) this.storage.sql.exec('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)', "", entry.when);
      });
      this.loaded([]);
      this.startEmpty();
      return;
    }
    if (tables.has("meta") && !tables.has("__drizzle_migrations")) {
      const first = migrations.journal.entries[0]!;
      this.storage.sql.exec('CREATE TABLE "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
      this.storage.sql.exec('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)', "", first.when);
    }
    migrate(this.db, migrations);
    this.reload();
  }

  /**
   * Runs `fn` in one transaction; if it throws, the in-memory values are read again. The meta
   * values `fn` sets or deletes are written when it returns, one statement for those set and one
   * for those deleted (reads see them at once: they are held in memory), not a statement per value.
   * A transaction inside another is part of it.
   */
  transaction<T>(fn: () => T): T {
    if (this.pendingMeta) return fn();
    try {
      return this.storage.transactionSync(() => {
        this.pendingMeta = new Map();
        try {
          const result = fn();
          this.writeMeta(this.pendingMeta);
          return result;
        } finally {
          this.pendingMeta = undefined;
        }
      });
    } catch (error) {
      this.reload();
      throw error;
    }
  }

  /** Writes meta values (undefined: deleted), a statement per ROWS of them. */
  private writeMeta(values: Map<string, string | undefined>): void {
    const set = [...values].filter((e): e is [string, string] => e[1] !== undefined);
    const deleted = [...values].filter(([, value]) => value === undefined).map(([name]) => name);
    for (const chunk of chunks(set)) this.storage.sql.exec(insertText("meta", ["name", "value"], chunk.length, "ON CONFLICT (name) DO UPDATE SET value = excluded.value"), ...chunk.flat());
    for (const chunk of chunks(deleted)) this.storage.sql.exec(`DELETE FROM meta WHERE name IN (${chunk.map(() => "?").join(", ")})`, ...chunk);
  }

  private reload(): void {
    this.started(this.storage.sql.exec<StartRow>(START_READ).toArray());
    this.onReload();
  }

  /** Takes the start read's rows: the meta values, and the sets it holds (traits are read on first use). */
  private started(rows: StartRow[]): void {
    this.loaded(rows.filter((r) => r.part === 0) as { name: string; value: string }[]);
    const names = (part: number) => rows.filter((r) => r.part === part).map((r) => String(r.name));
    this.counterNames = new Set(names(2));
    this.identityKeys = new Set(rows.filter((r) => r.part === 3).map((r) => identityOf(String(r.name), String(r.value))));
    this.members = names(4).sort();
  }

  /** Takes `rows` as the meta values; the sets loaded on first use are read again when next used. */
  private loaded(rows: { name: string; value: string }[]): void {
    this.values = new Map(rows.map((r) => [r.name, r.value]));
    this.counterNames = undefined;
    this.traitNames = undefined;
    this.identityKeys = undefined;
    this.members = undefined;
    this.isNew = false;
  }

  /** A database this object has just created: its tables are empty, so the sets start empty unread. */
  private startEmpty(): void {
    this.isNew = true;
    this.counterNames = new Set();
    this.traitNames = new Set();
    this.identityKeys = new Set();
    this.members = [];
  }

  // --- meta -------------------------------------------------------------------------------

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  number(name: string): number | undefined {
    const value = this.values.get(name);
    return value === undefined ? undefined : Number(value);
  }

  json<T>(name: string): T | undefined {
    const value = this.values.get(name);
    return value === undefined ? undefined : (JSON.parse(value) as T);
  }

  set(name: string, value: string): void {
    if (this.values.get(name) === value) return;
    if (this.pendingMeta) this.pendingMeta.set(name, value);
    else this.writeMeta(new Map([[name, value]]));
    this.values.set(name, value);
  }

  setOnce(name: string, value: string): void {
    if (!this.values.has(name)) this.set(name, value);
  }

  delete(name: string): void {
    if (!this.values.has(name)) return;
    if (this.pendingMeta) this.pendingMeta.set(name, undefined);
    else this.writeMeta(new Map([[name, undefined]]));
    this.values.delete(name);
  }

  // --- what an event does -----------------------------------------------------------------

  /** Records a messageId; false when it was applied before. */
  markSeen(messageId: string, at: number): boolean {
    return this.markSeenAll([messageId], at).has(messageId);
  }

  /** Records messageIds (one statement per ROWS); returns those never applied before, each once. */
  markSeenAll(messageIds: string[], at: number): Set<string> {
    const fresh = new Set<string>();
    for (const chunk of chunks(messageIds)) {
      const text = insertText("seen", ["message_id", "at"], chunk.length, "ON CONFLICT DO NOTHING RETURNING message_id AS id");
      for (const row of this.storage.sql.exec<{ id: string }>(text, ...chunk.flatMap((messageId) => [messageId, at]))) fresh.add(row.id);
    }
    return fresh;
  }

  /**
   * Applies events' effects, within the profile's bounds: counters added up and written in one
   * statement, recent events and campaign touches in one each. Returns the counters' new values.
   */
  store(items: { messageId: string; effects: Effects }[], now: number): Map<string, number> {
    const counts = new Map<string, number>();
    const eventRows: { messageId: string; at: number; body: string }[] = [];
    const campaignRows: { messageId: string; at: number; body: string }[] = [];
    let first = Infinity;
    let last = -Infinity;
    for (const { messageId, effects } of items) {
      for (const identity of effects.identities) this.addIdentity(identity.kind, identity.value, now);
      const traitEntries = Object.entries(effects.traits ?? {});
      if (traitEntries.length > 0) this.setTraits(traitEntries.map(([name, value]) => ({ name, value: JSON.stringify(value ?? null), updatedAt: effects.at })), false);
      for (const name of effects.counters) counts.set(name, (counts.get(name) ?? 0) + 1);
      if (effects.campaign) campaignRows.push({ messageId, at: effects.at, body: JSON.stringify(effects.campaign) });
      eventRows.push({ messageId, at: effects.at, body: JSON.stringify(effects.recent) });
      first = Math.min(first, effects.at);
      last = Math.max(last, effects.at);
    }
    this.insertRows("campaigns", campaignRows);
    this.insertRows("events", eventRows);
    if (first < (this.number("first_seen") ?? Infinity)) this.set("first_seen", String(first));
    if (last > (this.number("last_seen") ?? -Infinity)) this.set("last_seen", String(last));
    return this.increment(counts);
  }

  /** Recent events or campaign touches (already deduplicated by `seen`), a statement per ROWS. */
  private insertRows(table: "events" | "campaigns", rows: { messageId: string; at: number; body: string }[]): void {
    for (const chunk of chunks(rows)) {
      this.storage.sql.exec(insertText(table, ["message_id", "at", "body"], chunk.length, "ON CONFLICT DO NOTHING"), ...chunk.flatMap((r) => [r.messageId, r.at, r.body]));
    }
  }

  /** Sets traits; `onlyNewer` keeps a held value that was set later (merges). New names stop at MAX_TRAITS. */
  setTraits(rows: { name: string; value: string; updatedAt: number }[], onlyNewer: boolean): void {
    this.traitNames ??= new Set(this.storage.sql.exec<{ name: string }>("SELECT name FROM traits").toArray().map((r) => r.name));
    const held = this.traitNames;
    for (const row of rows) {
      if (!held.has(row.name)) {
        if (held.size >= MAX_TRAITS) continue;
        held.add(row.name);
      }
      this.storage.sql.exec(onlyNewer ? TRAIT_UPSERT_NEWER : TRAIT_UPSERT, row.name, row.value, row.updatedAt);
    }
  }

  /**
   * Adds to counters, in one statement per ROWS names; returns their new values. Names stop at
   * MAX_COUNTERS (the last place is kept for `event:(other)`, where new event names are counted
   * from then on).
   */
  increment(counts: Map<string, number>): Map<string, number> {
    this.counterNames ??= new Set(this.storage.sql.exec<{ name: string }>("SELECT name FROM counters").toArray().map((r) => r.name));
    const names = this.counterNames;
    const by = new Map<string, number>();
    for (const [name, n] of counts) {
      const target = names.has(name) || !(names.size >= MAX_COUNTERS - 1 && name.startsWith("event:")) ? name : OTHER_EVENTS;
      names.add(target);
      by.set(target, (by.get(target) ?? 0) + n);
    }
    const after = new Map<string, number>();
    for (const chunk of chunks([...by])) {
      const text = insertText("counters", ["name", "count"], chunk.length, "ON CONFLICT (name) DO UPDATE SET count = count + excluded.count RETURNING name, count");
      for (const row of this.storage.sql.exec<{ name: string; count: number }>(text, ...chunk.flat())) after.set(row.name, row.count);
    }
    return after;
  }

  /** Binds an identity, up to MAX_IDENTITIES (the first bindings stay); one already bound costs nothing. */
  addIdentity(kind: string, value: string, now: number): void {
    this.identityKeys ??= new Set(this.storage.sql.exec<{ kind: string; value: string }>("SELECT kind, value FROM identities").toArray().map((r) => identityOf(r.kind, r.value)));
    const key = identityOf(kind, value);
    if (this.identityKeys.has(key) || this.identityKeys.size >= MAX_IDENTITIES) return;
    this.db.insert(identities).values({ kind, value, firstSeen: now }).onConflictDoNothing().run();
    this.identityKeys.add(key);
  }

  // --- reads ------------------------------------------------------------------------------

  traitRows() {
    return this.db.select().from(traits).orderBy(asc(traits.name)).all();
  }

  traitValues(): Record<string, unknown> {
    // fromEntries defines properties: a trait named "__proto__" stays a trait.
    return Object.fromEntries(this.traitRows().map((r) => [r.name, JSON.parse(r.value)]));
  }

  counterValues(): Record<string, number> {
    return Object.fromEntries(this.db.select().from(counters).orderBy(asc(counters.name)).all().map((r) => [r.name, r.count]));
  }

  identityRows() {
    return this.db.select({ kind: identities.kind, value: identities.value }).from(identities).orderBy(asc(identities.firstSeen), asc(identities.kind)).all();
  }

  touches(): CampaignTouch[] {
    return this.db.select({ body: campaigns.body }).from(campaigns).orderBy(asc(campaigns.at), asc(campaigns.messageId)).all().map((r) => JSON.parse(r.body) as CampaignTouch);
  }

  /** The source of the first campaign touch (the one pruning always keeps). */
  firstTouchSource(): string | undefined {
    const row = this.db.select({ body: campaigns.body }).from(campaigns).orderBy(asc(campaigns.at), asc(campaigns.messageId)).limit(1).get();
    return row ? (JSON.parse(row.body) as CampaignTouch).source : undefined;
  }

  recentEvents(limit: number): RecentEvent[] {
    return this.db.select({ body: events.body }).from(events).orderBy(desc(events.at), desc(events.messageId)).limit(limit).all().map((r) => JSON.parse(r.body) as RecentEvent);
  }

  eventRows() {
    return this.db.select().from(events).orderBy(desc(events.at), desc(events.messageId)).all();
  }

  campaignRows() {
    return this.db.select().from(campaigns).all();
  }

  seenRows() {
    return this.db.select().from(seen).all();
  }

  memberOf(): string[] {
    this.members ??= this.storage.sql.exec<{ id: string }>("SELECT segment_id AS id FROM memberships ORDER BY segment_id").toArray().map((r) => r.id);
    return [...this.members];
  }

  assignmentRows() {
    return this.db.select().from(assignments).all();
  }

  mergedFromKeys(): string[] {
    return this.db.select({ key: mergedFrom.key }).from(mergedFrom).orderBy(asc(mergedFrom.at)).all().map((r) => r.key);
  }

  // --- writes -----------------------------------------------------------------------------

  enterSegment(segmentId: string, version: number, since: number): void {
    this.db.insert(memberships).values({ segmentId, version, since }).onConflictDoNothing().run();
    if (this.members && !this.members.includes(segmentId)) this.members = [...this.members, segmentId].sort();
  }

  leaveSegment(segmentId: string): void {
    this.db.delete(memberships).where(eq(memberships.segmentId, segmentId)).run();
    this.members = this.members?.filter((id) => id !== segmentId);
  }

  assign(experienceId: string, variant: string, at: number, keepHeld: boolean): void {
    const insert = this.db.insert(assignments).values({ experienceId, variant, at });
    if (keepHeld) insert.onConflictDoNothing().run();
    else insert.onConflictDoUpdate({ target: assignments.experienceId, set: { variant, at } }).run();
  }

  dropAssignments(): void {
    this.db.delete(assignments).run();
  }

  addEventRow(row: { messageId: string; at: number; body: string }): void {
    this.insertRows("events", [row]);
  }

  addCampaignRow(row: { messageId: string; at: number; body: string }): void {
    this.insertRows("campaigns", [row]);
  }

  rewriteCampaign(messageId: string, body: string): void {
    this.db.update(campaigns).set({ body }).where(eq(campaigns.messageId, messageId)).run();
  }

  rewriteEvent(messageId: string, body: string): void {
    this.db.update(events).set({ body }).where(eq(events.messageId, messageId)).run();
  }

  /** Records a merged source; false when it was absorbed before. */
  markMerged(key: string, at: number): boolean {
    return this.db.insert(mergedFrom).values({ key, at }).onConflictDoNothing().returning({ k: mergedFrom.key }).all().length > 0;
  }

  /** Drops everything that identifies or describes the visitor; consent, pointers and merge memory stay. */
  forgetData(): void {
    for (const table of DATA_TABLES) this.db.delete(table).run();
    for (const name of DATA_META) this.delete(name);
    this.counterNames = new Set();
    this.traitNames = new Set();
    this.identityKeys = new Set();
    this.members = [];
  }

  /** Drops everything, outbox included (erasure leaves only what `set` writes after). */
  eraseAll(): void {
    for (const table of [...DATA_TABLES, mergedFrom, outbox, meta]) this.db.delete(table).run();
    // Nothing the running transaction set before is kept either.
    this.pendingMeta?.clear();
    this.values.clear();
    this.counterNames = new Set();
    this.traitNames = new Set();
    this.identityKeys = new Set();
    this.members = [];
  }

  /**
   * Keeps the recent-event list, campaign touches, dedupe memory, assignments and merge memory
   * bounded. Events stay while a segment's window may need them (at least the newest
   * RECENT_EVENTS, at most MAX_EVENTS).
   */
  prune(historyMs: number, now: number): void {
    const keepSince = Number.isFinite(historyMs) ? now - historyMs : -Infinity;
    const newest = (limit: number) => this.db.select({ id: events.messageId }).from(events).orderBy(desc(events.at), desc(events.messageId)).limit(limit);
    this.db.delete(events).where(and(lt(events.at, keepSince), notInArray(events.messageId, newest(RECENT_EVENTS)))).run();
    this.db.delete(events).where(notInArray(events.messageId, newest(MAX_EVENTS))).run();
    // The first touch stays whatever happens (first-touch attribution), and the newest ones.
    const newestTouches = this.db.select({ id: campaigns.messageId }).from(campaigns).orderBy(desc(campaigns.at), desc(campaigns.messageId)).limit(RECENT_EVENTS);
    this.db.delete(campaigns).where(and(notInArray(campaigns.messageId, newestTouches), sql`${campaigns.at} > (SELECT MIN(at) FROM campaigns)`)).run();
    this.db.delete(seen).where(lt(seen.at, now - DEDUPE_DAYS * DAY)).run();
    this.db.delete(seen).where(notInArray(seen.messageId, this.db.select({ id: seen.messageId }).from(seen).orderBy(desc(seen.at)).limit(MAX_SEEN))).run();
    this.db.delete(assignments).where(notInArray(assignments.experienceId, this.db.select({ id: assignments.experienceId }).from(assignments).orderBy(desc(assignments.at)).limit(MAX_ASSIGNMENTS))).run();
    this.db.delete(mergedFrom).where(notInArray(mergedFrom.key, this.db.select({ k: mergedFrom.key }).from(mergedFrom).orderBy(desc(mergedFrom.at)).limit(MAX_MERGED_FROM))).run();
  }

  // --- the outbox -------------------------------------------------------------------------

  /** Writes what the current change owes the pipeline (call inside the change's transaction). */
  owe(messages: PipelineMessage[], now: number): void {
    for (const message of messages) this.db.insert(outbox).values({ body: JSON.stringify(message), at: now }).run();
  }

  /** The oldest owed messages. */
  owed(limit: number): { id: number; message: PipelineMessage }[] {
    return this.db.select().from(outbox).orderBy(asc(outbox.id)).limit(limit).all().map((r) => ({ id: r.id, message: JSON.parse(r.body) as PipelineMessage }));
  }

  acknowledge(ids: number[]): void {
    for (let i = 0; i < ids.length; i += 90) this.db.delete(outbox).where(inArray(outbox.id, ids.slice(i, i + 90))).run();
  }

  hasOwed(): boolean {
    return this.db.select({ id: outbox.id }).from(outbox).limit(1).all().length > 0;
  }
}
