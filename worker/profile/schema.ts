/**
 * The ProfileStore Durable Object's SQLite tables (one database per profile), the single source
 * of its migrations (`npm run db:generate` → `worker/profile/migrations/`, applied by drizzle's
 * Durable Object migrator when an object starts). Migration 0000 is the schema profiles were
 * created with before migrations existed; such profiles are adopted at 0000 (see `storage.ts`).
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Small named values: consent, pointers, the tombstone, first/last seen, segment bookkeeping. */
export const meta = sqliteTable("meta", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
});

export const identities = sqliteTable(
  "identities",
  {
    kind: text("kind").notNull(),
    value: text("value").notNull(),
    firstSeen: integer("first_seen").notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.value] })],
);

export const traits = sqliteTable("traits", {
  name: text("name").primaryKey(),
  /** JSON. */
  value: text("value").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** The dedupe memory: every messageId applied, with when. */
export const seen = sqliteTable("seen", { messageId: text("message_id").primaryKey(), at: integer("at").notNull() }, (t) => [index("seen_at").on(t.at)]);

/** Recent events as rules and the profile view see them (JSON `RecentEvent`). */
export const events = sqliteTable(
  "events",
  { messageId: text("message_id").primaryKey(), at: integer("at").notNull(), body: text("body").notNull() },
  (t) => [index("events_at").on(t.at)],
);

export const counters = sqliteTable("counters", { name: text("name").primaryKey(), count: integer("count").notNull() });

/** Campaign touches (JSON `CampaignTouch`). */
export const campaigns = sqliteTable(
  "campaigns",
  { messageId: text("message_id").primaryKey(), at: integer("at").notNull(), body: text("body").notNull() },
  (t) => [index("campaigns_at").on(t.at)],
);

/** Profiles merged into this one (each absorbed once). */
export const mergedFrom = sqliteTable("merged_from", { key: text("key").primaryKey(), at: integer("at").notNull() });

export const memberships = sqliteTable("memberships", {
  segmentId: text("segment_id").primaryKey(),
  version: integer("version").notNull(),
  since: integer("since").notNull(),
});

export const assignments = sqliteTable("assignments", {
  experienceId: text("experience_id").primaryKey(),
  variant: text("variant").notNull(),
  at: integer("at").notNull(),
});

/**
 * What a change owes the pipeline (queue messages: memberships, ledger entries, forgets,
 * exposures), written in the change's own transaction and deleted once the queue took it.
 */
export const outbox = sqliteTable("outbox", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  /** JSON `PipelineMessage`. */
  body: text("body").notNull(),
  at: integer("at").notNull(),
});
