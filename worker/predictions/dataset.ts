/**
 * The training set of a prediction, read from the event archive (D1 `events`) as the profiles
 * were at a cut-off: features from the events before it (the same `FeatureInput` a profile builds,
 * fed to the same `featureVector`), the label from the goal (with its `where`) in the window
 * after it. The archive is read in pages of profiles (keyset on the profile key), only the columns
 * features need are extracted in SQL, and the vectors go into one preallocated typed array: memory
 * is the dataset itself (rows × features × 4 bytes), not the events.
 */
import { compileWhere } from "../segments/compile";
import { segmentEventOf, type StoredEvent } from "../segments/input";
import type { Where } from "../segments/schema";
import { DAY_MS, FEATURE_HISTORY_MS, featureNames, featureVector, revenueOf, type FeatureEvent, type FeatureInput, type FeatureSpec } from "./features";
import type { Dataset } from "./model";

/** What the trainer needs of D1 (the benchmark passes node:sqlite behind the same calls). */
export type Archive = Pick<D1Database, "prepare">;

export interface Goal {
  event: string;
  where?: Where[];
}

export interface Window {
  workspaceId: string;
  /** Features see events before it; the label is the goal in [cutoff, labelEnd). */
  cutoff: number;
  labelEnd: number;
}

/** The most a model names: frequent events, first-touch sources, devices. */
export const MAX_EVENT_FEATURES = 20;
export const MAX_SOURCE_FEATURES = 10;
export const MAX_DEVICE_FEATURES = 5;
/** The most profiles one training reads (past it, the rest in key order are left out). */
export const MAX_PROFILES = 250_000;
/** Profiles read per page. */
const PAGE = 500;

/** Segment entries and exits are archived as track events but are not events of the profile. */
const NOT_PROFILE_EVENTS = `NOT (type = 'track' AND name IN ('Segment Entered', 'Segment Exited'))`;
const RULE_NAME = `CASE type WHEN 'track' THEN name WHEN 'page' THEN 'Page Viewed' WHEN 'screen' THEN 'Screen Viewed' END`;
/** A campaign touch, as worker/profile/effects.ts records one: a page or screen with campaign context or an outside referrer. */
const isTouch = (t = "") =>
  `(${t}type IN ('page', 'screen') AND (COALESCE(json_extract(${t}payload, '$.context.campaign'), '{}') != '{}' OR json_extract(${t}payload, '$.context.referrer.type') NOT IN ('direct', 'internal')))`;
const touchSource = (t = "") => `COALESCE(NULLIF(json_extract(${t}payload, '$.context.campaign.source'), ''), NULLIF(json_extract(${t}payload, '$.context.referrer.host'), ''))`;

const profiled = `workspace_id = ?1 AND profile_key IS NOT NULL AND bot = 0`;
/**
 * The same, for reads that walk profiles in key order: `+workspace_id` keeps SQLite off the
 * workspace indexes, so it walks `events_profile` from the page's first key (a page costs its own
 * rows, not the whole workspace's); the workspace is also the key's prefix.
 */
const byProfile = `+workspace_id = ?1 AND profile_key IS NOT NULL AND bot = 0`;

/** The feature definitions for this archive: what is frequent before the cut-off. */
export async function chooseSpec(db: Archive, window: Window): Promise<FeatureSpec> {
  const since = window.cutoff - FEATURE_HISTORY_MS;
  const top = async (expression: string, filter: string, limit: number) => {
    const { results } = await db
      .prepare(
        `SELECT ${expression} AS v, COUNT(DISTINCT profile_key) AS n FROM events WHERE ${profiled} AND timestamp >= ?2 AND timestamp < ?3 AND ${filter}
         GROUP BY v HAVING v IS NOT NULL AND v != '' ORDER BY n DESC, v LIMIT ${limit}`,
      )
      .bind(window.workspaceId, since, window.cutoff)
      .all<{ v: string; n: number }>();
    return results.map((r) => String(r.v));
  };
  const [events, sources, devices] = await Promise.all([
    top(RULE_NAME, `type IN ('track', 'page', 'screen') AND ${NOT_PROFILE_EVENTS}`, MAX_EVENT_FEATURES),
    top(touchSource(), isTouch(), MAX_SOURCE_FEATURES),
    top(`json_extract(payload, '$.context.device.type')`, "1", MAX_DEVICE_FEATURES),
  ]);
  return { version: 1, events, sources, devices };
}

interface Row {
  k: string;
  t: string;
  n: string | null;
  at: number;
  rev: unknown;
  dev: string | null;
  props: string | null;
  page: string | null;
}

export interface BuiltDataset extends Dataset {
  keys: string[];
  names: string[];
}

/**
 * Builds the labelled dataset: every profile with an event in the feature history before the
 * cut-off, its feature vector at the cut-off, and whether it did the goal in the window after.
 */
export async function buildDataset(db: Archive, window: Window, spec: FeatureSpec, goal: Goal): Promise<BuiltDataset> {
  const since = window.cutoff - FEATURE_HISTORY_MS;
  const names = featureNames(spec);
  const width = names.length;
  const counted = await db
    .prepare(`SELECT COUNT(DISTINCT profile_key) AS n FROM events WHERE ${profiled} AND timestamp >= ?2 AND timestamp < ?3`)
    .bind(window.workspaceId, since, window.cutoff)
    .first<{ n: number }>();
  const capacity = Math.min(MAX_PROFILES, counted?.n ?? 0);
  const x = new Float32Array(capacity * width);
  const y = new Uint8Array(capacity);
  const keys: string[] = [];
  const where = compileWhere(goal.where);
  const vector = new Float64Array(width);
  // Profile keys are `<workspace>:…`: the workspace's keys lie between these two.
  let after = `${window.workspaceId}:`;
  const end = `${window.workspaceId};`;
  while (keys.length < capacity) {
    const { results: page } = await db
      .prepare(`SELECT DISTINCT profile_key AS k FROM events WHERE ${byProfile} AND profile_key > ?2 AND profile_key < ?5 AND timestamp >= ?3 AND timestamp < ?4 ORDER BY profile_key LIMIT ${PAGE}`)
      .bind(window.workspaceId, after, since, window.cutoff, end)
      .all<{ k: string }>();
    if (page.length === 0) break;
    const first = page[0]!.k;
    const last = page.at(-1)!.k;
    after = last;
    const [rows, history] = await Promise.all([
      db
        .prepare(
          `SELECT profile_key AS k, type AS t, name AS n, timestamp AS at,
             json_extract(payload, '$.properties.revenue') AS rev,
             json_extract(payload, '$.context.device.type') AS dev,
             CASE WHEN timestamp >= ?5 AND ${RULE_NAME} = ?7 THEN json_extract(payload, '$.properties') END AS props,
             CASE WHEN timestamp >= ?5 AND ${RULE_NAME} = ?7 THEN json_extract(payload, '$.context.page') END AS page
           FROM events WHERE ${byProfile} AND profile_key >= ?2 AND profile_key <= ?3 AND timestamp >= ?4 AND timestamp < ?6 AND ${NOT_PROFILE_EVENTS}
           ORDER BY profile_key, timestamp`,
        )
        .bind(window.workspaceId, first, last, since, window.cutoff, window.labelEnd, goal.event)
        .all<Row>(),
      db
        .prepare(
          `SELECT profile_key AS k, MIN(timestamp) AS first_seen,
             (SELECT ${touchSource("t.")} FROM events t WHERE t.workspace_id = ?1 AND t.profile_key = e.profile_key AND t.bot = 0 AND t.timestamp < ?4 AND ${isTouch("t.")}
              ORDER BY t.timestamp, t.message_id LIMIT 1) AS source
           FROM events e WHERE ${byProfile} AND profile_key >= ?2 AND profile_key <= ?3 AND timestamp < ?4 AND ${NOT_PROFILE_EVENTS} GROUP BY profile_key`,
        )
        .bind(window.workspaceId, first, last, window.cutoff)
        .all<{ k: string; first_seen: number; source: string | null }>(),
    ]);
    const firsts = new Map(history.results.map((r) => [r.k, r]));
    const inPage = new Set(page.map((p) => p.k));
    let i = 0;
    const all = rows.results;
    while (i < all.length && keys.length < capacity) {
      const key = all[i]!.k;
      let j = i;
      while (j < all.length && all[j]!.k === key) j++;
      if (inPage.has(key)) {
        const { input, label } = visitorAt(all.slice(i, j), firsts.get(key), window, goal.event, where);
        const r = keys.length;
        keys.push(key);
        featureVector(spec, input, window.cutoff, vector);
        x.set(vector, r * width);
        y[r] = label ? 1 : 0;
      }
      i = j;
    }
  }
  return { x: x.subarray(0, keys.length * width), y: y.subarray(0, keys.length), rows: keys.length, width, keys, names };
}

/** One profile's rows → its feature input at the cut-off and its label. */
function visitorAt(rows: Row[], history: { first_seen: number; source: string | null } | undefined, window: Window, goal: string, where: ((p: Record<string, unknown>) => boolean) | undefined): { input: FeatureInput; label: boolean } {
  const events: FeatureEvent[] = [];
  let lastSeen: number | undefined;
  let device: string | undefined;
  let label = false;
  for (const row of rows) {
    const at = Number(row.at);
    if (at >= window.cutoff) {
      if (!label && row.props !== null) label = goalMatches(row, goal, where);
      continue;
    }
    lastSeen = at;
    if (typeof row.dev === "string" && row.dev !== "") device = row.dev;
    else device = undefined;
    const name = row.t === "track" ? row.n : row.t === "page" ? "Page Viewed" : row.t === "screen" ? "Screen Viewed" : null;
    if (name) events.push({ name, at, revenue: revenueOf({ revenue: row.rev }) });
  }
  return { input: { events, firstSeen: history?.first_seen, lastSeen, firstSource: history?.source ?? undefined, device }, label };
}

/** The page fields a profile keeps of an event's `context.page` (worker/profile/effects.ts). */
function pageOf(page: Record<string, unknown>): StoredEvent["page"] {
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  return { url: text(page.url), path: text(page.path), title: text(page.title) };
}

/** Whether an archived row in the label window is the goal with its `where` (as rules read the event). */
function goalMatches(row: Row, goal: string, where: ((p: Record<string, unknown>) => boolean) | undefined): boolean {
  const stored: StoredEvent = {
    type: row.t,
    ...(row.t === "track" ? { event: row.n ?? undefined } : row.n ? { name: row.n } : {}),
    timestamp: new Date(Number(row.at)).toISOString(),
    properties: (JSON.parse(row.props ?? "{}") as Record<string, unknown>) ?? {},
    ...(row.page ? { page: pageOf(JSON.parse(row.page) as Record<string, unknown>) } : {}),
  };
  const event = segmentEventOf(stored);
  return event !== undefined && event.name === goal && (where === undefined || where(event.properties));
}

export { DAY_MS };
