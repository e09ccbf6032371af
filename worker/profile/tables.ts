/** The ProfileStore's SQLite tables, and the bounds on what they keep. */
import { DAY } from "./contract";

export const SCHEMA = `
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
  CREATE TABLE IF NOT EXISTS merged_from (key TEXT PRIMARY KEY, at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS memberships (segment_id TEXT PRIMARY KEY, version INTEGER NOT NULL, since INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS assignments (experience_id TEXT PRIMARY KEY, variant TEXT NOT NULL, at INTEGER NOT NULL);
`;

/** Profile data, as opposed to the consent, pointer and tombstone kept in `meta`. */
export const DATA_TABLES = ["identities", "traits", "seen", "events", "counters", "campaigns", "memberships", "assignments"];
/** Events kept whatever the segments' windows, and the most ever kept. */
export const MAX_EVENTS = 5000;

/** Pruning runs once this many events were added since the last one (amortised, not per event). */
export const PRUNE_EVERY = 50;
/** The expiry alarm is moved only when it would move by more than this. */
export const ALARM_SLACK = DAY;

