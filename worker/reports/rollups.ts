/**
 * The report rollups the queue consumer writes with each batch (worker/pipeline/consumer.ts adds
 * these statements to the batch's own D1 transaction, so they commit with the archive rows).
 * - Touchpoints and funnel steps are keyed by messageId / (site, event, day, profile): a redelivered
 *   event changes nothing.
 * - A visitor's aggregate contribution (attribution credit, experiment counts) is recomputed from
 *   all their stored touchpoints plus the new ones and written as the difference from the stored
 *   contribution, guarded by a version: a consumer that read an older version aborts its batch and
 *   the queue retries it, so concurrent batches cannot apply one change twice.
 * - Membership changes and consent changes count once through a dedupe table (`changes()` of the
 *   insert before).
 * - A forget with `archive` (consent withdrawn) drops the profile's per-profile rows.
 */
import type { CollectedEvent } from "../collect/normalise";
import { PURPOSES } from "../consent/purposes";
import type { PipelineMessage } from "../pipeline/messages";
import { compileWhere } from "../segments/compile";
import type { Where } from "../segments/schema";
import type { StoredExperience } from "../decisions/schema";
import { currentExperiences } from "../store/experiences";
import { dayOf, funnelStepOf, touchpointsOf, type Touchpoint, type TouchpointKind } from "./touchpoints";
import { LOOKBACK_DAYS } from "./credit";
import { difference, nextContribution, open, openSince, SETTLED_AFTER_DAYS, type Contribution } from "./visitor";

const DAY_MS = 86_400_000;

type Of<K extends PipelineMessage["kind"]> = Extract<PipelineMessage, { kind: K }>;
type Writes = Map<Message<PipelineMessage>, D1PreparedStatement[]>;

type GoalMatcher = { experienceId: string; name: string; where: ((p: Record<string, unknown>) => boolean) | undefined };

/** Goal matchers per loaded list of experiences (the cache hands out the same array until it reloads). */
const matchersOf = new WeakMap<StoredExperience[], GoalMatcher[]>();

/** The goals of the workspace's experiences, as they are within the experience cache's 30 s. */
async function goalMatchers(d1: D1Database, workspaceId: string): Promise<GoalMatcher[]> {
  const experiences = await currentExperiences(d1, workspaceId);
  let matchers = matchersOf.get(experiences);
  if (!matchers) {
    matchers = experiences.flatMap((e) => (e.goal ? [{ experienceId: e.id, name: e.goal.event, where: compileWhere(e.goal.where as Where[] | undefined) }] : []));
    matchersOf.set(experiences, matchers);
  }
  return matchers;
}

const goalsOf = (matchers: GoalMatcher[]) => (event: CollectedEvent) =>
  event.type === "track" ? matchers.filter((m) => m.name === event.event && (!m.where || m.where((event.properties ?? {}) as Record<string, unknown>))).map((m) => m.experienceId) : [];

interface StoredRow {
  profile_key: string;
  id: string;
  site_id: string;
  at: number;
  kind: TouchpointKind;
  name: string;
  data: string;
}

/**
 * The measured touchpoints already stored for these profiles of one workspace that can still
 * change a report: exposures and goal events always, other touches and conversions from `after`
 * (ms; settled attribution needs nothing older).
 */
async function storedTouchpoints(d1: D1Database, workspaceId: string, keys: string[], after: number): Promise<Map<string, Touchpoint[]>> {
  const { results } = await d1
    .prepare(
      `SELECT profile_key, id, site_id, at, kind, name, data FROM report_touchpoints
       WHERE workspace_id = ? AND profile_key IN (SELECT value FROM json_each(?)) AND kind IN ('touch', 'conversion', 'exposure')
         AND (at >= ? OR kind = 'exposure' OR (kind = 'conversion' AND json_extract(data, '$.goals') IS NOT NULL))`,
    )
    .bind(workspaceId, JSON.stringify(keys), after)
    .all<StoredRow>();
  const out = new Map<string, Touchpoint[]>();
  for (const row of results) {
    const list = out.get(row.profile_key) ?? [];
    list.push({ id: row.id, siteId: row.site_id, at: row.at, kind: row.kind, name: row.name, data: JSON.parse(row.data) as Record<string, unknown> });
    out.set(row.profile_key, list);
  }
  return out;
}

async function storedVisitors(d1: D1Database, workspaceId: string, keys: string[]): Promise<Map<string, { version: number; contribution: Contribution }>> {
  const { results } = await d1
    .prepare("SELECT profile_key, version, contribution FROM report_visitors WHERE workspace_id = ? AND profile_key IN (SELECT value FROM json_each(?))")
    .bind(workspaceId, JSON.stringify(keys))
    .all<{ profile_key: string; version: number; contribution: string }>();
  return new Map(results.map((r) => [r.profile_key, { version: r.version, contribution: JSON.parse(r.contribution) as Contribution }]));
}

/** The statements that move the aggregates by `delta` and record the visitor's new contribution. */
function visitorStatements(d1: D1Database, workspaceId: string, profileKey: string, version: number, after: Contribution, delta: Contribution): D1PreparedStatement[] {
  const attribution: unknown[] = [];
  const experiments: unknown[] = [];
  for (const [key, values] of Object.entries(delta)) {
    const parts = JSON.parse(key) as unknown[];
    if (parts[0] === "a") attribution.push([...parts.slice(1), ...values]);
    else experiments.push([...parts.slice(1), ...values]);
  }
  const statements = [
    // Aborts the batch (malformed JSON is an error) when another consumer wrote this visitor since it was read.
    d1
      .prepare("SELECT json('stale visitor version ' || v) FROM (SELECT coalesce((SELECT version FROM report_visitors WHERE workspace_id = ? AND profile_key = ?), 0) AS v) WHERE v != ?")
      .bind(workspaceId, profileKey, version),
    d1
      .prepare(
        `INSERT INTO report_visitors (workspace_id, profile_key, version, contribution) VALUES (?, ?, ?, ?)
         ON CONFLICT (workspace_id, profile_key) DO UPDATE SET version = excluded.version, contribution = excluded.contribution`,
      )
      .bind(workspaceId, profileKey, version + 1, JSON.stringify(after)),
  ];
  if (attribution.length > 0) {
    statements.push(
      d1
        .prepare(
          `INSERT INTO report_attribution (site_id, day, conversion, model, lookback_days, source, medium, campaign, credit, revenue)
           SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9 FROM json_each(?) WHERE true
           ON CONFLICT DO UPDATE SET credit = credit + excluded.credit, revenue = revenue + excluded.revenue`,
        )
        .bind(JSON.stringify(attribution)),
    );
  }
  if (experiments.length > 0) {
    statements.push(
      d1
        .prepare(
          `INSERT INTO report_experiments (experience_id, variant, day, exposed, converted, revenue)
           SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5 FROM json_each(?) WHERE true
           ON CONFLICT DO UPDATE SET exposed = exposed + excluded.exposed, converted = converted + excluded.converted, revenue = revenue + excluded.revenue`,
        )
        .bind(JSON.stringify(experiments)),
    );
  }
  return statements;
}

const touchpointInsert = (d1: D1Database, workspaceId: string, profileKey: string, t: Touchpoint) =>
  d1
    .prepare("INSERT INTO report_touchpoints (workspace_id, profile_key, id, site_id, at, kind, name, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
    .bind(workspaceId, profileKey, t.id.slice(0, 300), t.siteId, t.at, t.kind, t.name.slice(0, 255), JSON.stringify(t.data));

/** Per-profile report rows of a profile that withdrew consent or was erased (aggregates keep their counts). */
export function forgetStatements(d1: D1Database, workspaceId: string, keys: readonly string[]): D1PreparedStatement[] {
  const list = JSON.stringify(keys);
  return ["report_touchpoints", "report_visitors", "report_funnel_steps", "report_membership_seen"].map((table) =>
    d1.prepare(`DELETE FROM ${table} WHERE workspace_id = ? AND profile_key IN (SELECT value FROM json_each(?))`).bind(workspaceId, list),
  );
}

/**
 * The rollup statements of a batch, by the message they belong to (so the consumer's one-message
 * fallback keeps each with its own archive row). `suppressed`: erased profiles, whose events are dropped.
 */
export async function reportWrites(d1: D1Database, messages: readonly Message<PipelineMessage>[], suppressed: ReadonlySet<string>): Promise<Writes> {
  const writes: Writes = new Map();
  const push = (m: Message<PipelineMessage>, ...s: D1PreparedStatement[]) => writes.set(m, [...(writes.get(m) ?? []), ...s]);
  const matchers = new Map<string, GoalMatcher[]>();

  // New touchpoints per workspace and profile, with the first message of each profile.
  const fresh = new Map<string, Map<string, { first: Message<PipelineMessage>; touchpoints: Touchpoint[] }>>();
  for (const message of messages) {
    const body = message.body;
    if (body.kind !== "event" || !body.profileKey || suppressed.has(body.profileKey)) continue;
    const ws = body.workspaceId;
    if (!matchers.has(ws)) matchers.set(ws, await goalMatchers(d1, ws));
    const touchpoints = touchpointsOf(body.event, body.siteId, goalsOf(matchers.get(ws)!));
    for (const t of touchpoints) push(message, touchpointInsert(d1, ws, body.profileKey, t));
    const step = funnelStepOf(body.event);
    const at = Date.parse(body.event.timestamp);
    if (step && Number.isFinite(at)) {
      // First and last occurrence per visitor, event and day; the properties are the first one's.
      push(
        message,
        d1
          .prepare(
            `INSERT INTO report_funnel_steps (site_id, name, day, profile_key, workspace_id, first_at, last_at, properties) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT DO UPDATE SET first_at = min(first_at, excluded.first_at), last_at = max(last_at, excluded.last_at),
               properties = CASE WHEN excluded.first_at < first_at THEN excluded.properties ELSE properties END`,
          )
          .bind(body.siteId, step.name.slice(0, 255), dayOf(at), body.profileKey, ws, at, at, JSON.stringify(step.properties)),
      );
    }
    const measured = touchpoints.filter((t) => t.kind === "touch" || t.kind === "conversion" || t.kind === "exposure");
    if (measured.length === 0) continue;
    const profiles = fresh.get(ws) ?? new Map();
    const entry = profiles.get(body.profileKey) ?? { first: message, touchpoints: [] };
    entry.touchpoints.push(...measured);
    profiles.set(body.profileKey, entry);
    fresh.set(ws, profiles);
  }

  for (const [ws, profiles] of fresh) {
    const keys = [...profiles.keys()];
    const stored = new Map<string, Touchpoint[]>();
    const visitors = new Map<string, { version: number; contribution: Contribution }>();
    // A visitor's newest event in the batch bounds what is still open for them (their newest stored
    // event can only be later): older touches and conversions cannot change a report.
    const newestOf = (key: string) => Math.max(...profiles.get(key)!.touchpoints.map((t) => t.at));
    const reach = (SETTLED_AFTER_DAYS + 1 + Math.max(...LOOKBACK_DAYS)) * DAY_MS;
    for (let i = 0; i < keys.length; i += 50) {
      const chunk = keys.slice(i, i + 50);
      const after = Math.min(...chunk.map(newestOf)) - reach;
      for (const [k, v] of await storedTouchpoints(d1, ws, chunk, after)) stored.set(k, v);
      for (const [k, v] of await storedVisitors(d1, ws, chunk)) visitors.set(k, v);
    }
    for (const [key, { first, touchpoints }] of profiles) {
      const known = stored.get(key) ?? [];
      const ids = new Set(known.map((t) => t.id));
      const added = touchpoints.filter((t) => !ids.has(t.id) && (ids.add(t.id), true));
      if (added.length === 0) continue; // a redelivery of what is already counted
      const before = visitors.get(key) ?? { version: 0, contribution: {} };
      const all = [...known, ...added];
      // Settled days leave both sides alike: what they added stays in the aggregates.
      const since = openSince(all);
      const after = nextContribution(known, added, before.contribution, since);
      push(first, ...visitorStatements(d1, ws, key, before.version, after, difference(open(before.contribution, since), after)));
    }
  }

  for (const message of messages) {
    const body = message.body;
    if (body.kind === "membership") {
      if (suppressed.has(body.profileKey)) continue;
      push(message, ...membershipStatements(d1, body));
    } else if (body.kind === "consent") {
      push(message, ...consentStatements(d1, body));
    } else if (body.kind === "forget" && body.archive) {
      push(message, ...forgetStatements(d1, body.workspaceId, [body.profileKey]));
    }
  }
  return writes;
}

function membershipStatements(d1: D1Database, m: Of<"membership">): D1PreparedStatement[] {
  const column = m.member ? "entered" : "exited";
  return [
    d1
      .prepare("INSERT INTO report_membership_seen (segment_id, profile_key, member, at, workspace_id) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
      .bind(m.segmentId, m.profileKey, m.member ? 1 : 0, m.at, m.workspaceId),
    d1
      .prepare(
        `INSERT INTO report_segment_days (segment_id, day, entered, exited) SELECT ?, ?, ?, ? WHERE changes() = 1
         ON CONFLICT DO UPDATE SET ${column} = ${column} + 1`,
      )
      .bind(m.segmentId, dayOf(m.at), m.member ? 1 : 0, m.member ? 0 : 1),
  ];
}

function consentStatements(d1: D1Database, m: Of<"consent">): D1PreparedStatement[] {
  const day = dayOf(m.at);
  const statements = [d1.prepare("INSERT INTO report_consent_seen (id) VALUES (?) ON CONFLICT DO NOTHING").bind(m.id)];
  // Each count runs only when the statement before it wrote a row: the chain stops at a seen id.
  for (const purpose of PURPOSES) {
    const source = m.consent.sources?.[purpose];
    if (!source || source === "site") continue;
    const granted = m.consent.purposes?.[purpose] === true;
    statements.push(
      d1
        .prepare(
          `INSERT INTO report_consent_days (site_id, day, purpose, source, granted, denied) SELECT ?, ?, ?, ?, ?, ? WHERE changes() = 1
           ON CONFLICT DO UPDATE SET granted = granted + excluded.granted, denied = denied + excluded.denied`,
        )
        .bind(m.siteId, day, purpose, source, granted ? 1 : 0, granted ? 0 : 1),
    );
  }
  return statements;
}
