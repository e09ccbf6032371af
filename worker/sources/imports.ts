/**
 * Imports (DESIGN.md §3 "Sources beyond the tag"): a CSV or NDJSON file streamed into R2, then
 * applied by a chain of queue chunks, each a bounded byte range and number of rows, as identify
 * calls on the profiles the rows name (the same path collection uses: `applyToProfile`).
 *
 * Idempotent twice over: each row's messageId is a hash of the site and the row's content, so a
 * profile applies a row once however often it arrives (a re-upload, a retried chunk); and a chunk
 * records its progress only while the import's `offset` is still the one it started from.
 */
import { and, desc, eq, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { withConsent } from "../consent/enforce";
import { mayProfile, type Purpose } from "../consent/purposes";
import type { ConsentSignals } from "../consent/resolve";
import type { CollectedEvent } from "../collect/normalise";
import { ApiError } from "../errors";
import { profileKey, type ProfileKey } from "../identity/keys";
import { enqueue, type PipelineMessage } from "../pipeline/messages";
import { applyToProfile } from "../profile/profiles";
import { liveDefinitions } from "../store/definitions";
import { imports, profileEmails, sites } from "../store/schema";
import { csvFields, splitRecords } from "./csv";
import { csvRow, ndjsonRow, rowMessageId, type ImportRow, type RowResult } from "./rows";

export const MAX_IMPORT_BYTES = 100 * 1024 * 1024;
/** What one chunk reads and applies at most: bounded in rows and in bytes. */
export const CHUNK_ROWS = 1000;
export const CHUNK_BYTES = 1024 * 1024;
/** Rejected rows kept with their reason (the count goes on). */
export const MAX_ERRORS = 1000;
/** Profiles called at once by a chunk. */
const PARALLEL = 50;

export type ImportFormat = "csv" | "ndjson";
export type ImportRecord = typeof imports.$inferSelect;
export type ImportChunkMessage = { kind: "import"; workspaceId: string; id: string; offset: number };
export interface ChunkLimits {
  rows: number;
  bytes: number;
}

export interface ImportView {
  id: string;
  siteId: string;
  format: ImportFormat;
  purposes: Purpose[];
  status: ImportRecord["status"];
  bytes: number;
  rows: number;
  applied: number;
  duplicates: number;
  rejected: number;
  errors: { row: number; message: string }[];
  failure: string | null;
  createdAt: string;
  updatedAt: string;
}

export const viewOf = (r: ImportRecord): ImportView => ({
  id: r.id,
  siteId: r.siteId,
  format: r.format,
  purposes: r.purposes,
  status: r.status,
  bytes: r.bytes,
  rows: r.rows,
  applied: r.applied,
  duplicates: r.duplicates,
  rejected: r.rejected,
  errors: r.errors,
  failure: r.failure,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

/** The format a Content-Type names, or undefined. */
export function formatOf(contentType: string): ImportFormat | undefined {
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  if (type === "text/csv") return "csv";
  if (type === "application/x-ndjson" || type === "application/ndjson" || type === "application/jsonl") return "ndjson";
  return undefined;
}

/**
 * Streams `body` into R2 and queues the import's first chunk. The length is known before anything
 * is kept (`Content-Length`), so an oversize file is refused whole; the body is never buffered.
 */
export async function startImport(
  env: Pick<Env, "DB" | "IMPORTS" | "IMPORT_CHUNKS">,
  request: { workspaceId: string; siteId: string; purposes: Purpose[]; format: ImportFormat; length: number; body: ReadableStream<Uint8Array> },
): Promise<ImportView> {
  const db = drizzle(env.DB);
  const [site] = await db.select({ id: sites.id }).from(sites).where(and(eq(sites.id, request.siteId), eq(sites.workspaceId, request.workspaceId))).limit(1);
  if (!site) throw new ApiError(404, "not_found", `No site ${request.siteId} in this workspace.`);
  const id = `imp_${crypto.randomUUID().replaceAll("-", "")}`;
  const objectKey = `${request.workspaceId}/${id}`;
  const stored = await env.IMPORTS.put(objectKey, request.body);
  if (!stored || stored.size !== request.length) {
    await env.IMPORTS.delete(objectKey);
    throw new ApiError(400, "incomplete_body", "The body ended before its Content-Length; nothing was kept.", { path: "body" });
  }
  const now = new Date();
  const [row] = await db
    .insert(imports)
    .values({ id, workspaceId: request.workspaceId, siteId: request.siteId, format: request.format, purposes: request.purposes, objectKey, bytes: request.length, status: request.length === 0 ? "done" : "queued", updatedAt: now })
    .returning();
  if (request.length === 0) await env.IMPORTS.delete(objectKey);
  else await env.IMPORT_CHUNKS.send({ kind: "import", workspaceId: request.workspaceId, id, offset: 0 } satisfies ImportChunkMessage, { contentType: "json" });
  return viewOf(row!);
}

export async function getImport(db: D1Database, workspaceId: string, id: string): Promise<ImportView | undefined> {
  const [row] = await drizzle(db).select().from(imports).where(and(eq(imports.id, id), eq(imports.workspaceId, workspaceId))).limit(1);
  return row && viewOf(row);
}

/** The workspace's imports, newest first (without their errors). */
export async function listImports(db: D1Database, workspaceId: string, limit = 100): Promise<Omit<ImportView, "errors">[]> {
  const rows = await drizzle(db).select().from(imports).where(eq(imports.workspaceId, workspaceId)).orderBy(desc(imports.createdAt)).limit(limit);
  return rows.map((r) => {
    const { errors: _errors, ...view } = viewOf(r);
    return view;
  });
}

type Env_ = Pick<Env, "DB" | "IMPORTS" | "IMPORT_CHUNKS" | "PROFILES" | "EVENTS">;

/**
 * Applies the chunk of an import that starts at `message.offset`, records its progress, and
 * queues the next one. A message whose offset is no longer the import's (a duplicate, or a retry
 * of a chunk whose progress was recorded) changes nothing; if it was the last chunk recorded, it
 * sends the next chunk again, in case that send was lost.
 */
export async function runImportChunk(env: Env_, message: ImportChunkMessage, limits: ChunkLimits = { rows: CHUNK_ROWS, bytes: CHUNK_BYTES }): Promise<void> {
  const db = drizzle(env.DB);
  const [record] = await db.select().from(imports).where(eq(imports.id, message.id)).limit(1);
  if (!record || record.status === "done" || record.status === "failed") return;
  if (record.offset !== message.offset) {
    if (record.previousOffset === message.offset) await sendNext(env, record, record.offset);
    return;
  }
  const object = await env.IMPORTS.get(record.objectKey, { range: { offset: record.offset, length: limits.bytes } });
  if (!object) return fail(env, record, "The uploaded file is gone from storage.");
  const bytes = new Uint8Array(await object.arrayBuffer());
  const final = record.offset + bytes.length >= record.bytes;
  let start = 0;
  // A UTF-8 byte order mark at the start of the file is not part of the first record.
  if (record.offset === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  const body = bytes.subarray(start);
  const split = splitRecords(body, { final, maxRecords: limits.rows + (record.offset === 0 && record.format === "csv" ? 1 : 0), quoted: record.format === "csv" });
  if (split.records.length === 0 && !final) return fail(env, record, `Row ${record.rows + 1} is longer than ${limits.bytes} bytes.`);
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  const texts = split.records.map((span) => {
    try {
      return decoder.decode(body.subarray(span.start, span.end));
    } catch {
      return undefined;
    }
  });

  let columns = record.columns;
  if (record.format === "csv" && !columns) {
    const header = texts.shift();
    if (header === undefined) return fail(env, record, "The CSV has no header row.");
    columns = csvFields(header).map((c) => c.trim());
    const problem = headerProblem(columns);
    if (problem) return fail(env, record, problem);
  }

  const results: { row: number; result: RowResult }[] = texts.map((text, i) => ({
    row: record.rows + i + 1,
    result: text === undefined ? { ok: false, message: "is not UTF-8 text" } : record.format === "csv" ? csvRow(columns!, csvFields(text)) : ndjsonRow(text),
  }));
  const errors: { row: number; message: string }[] = [];
  const valid: { row: number; value: ImportRow }[] = [];
  for (const { row, result } of results) {
    if (result.ok) valid.push({ row, value: result.row });
    else errors.push({ row, message: `row ${row} ${result.message}` });
  }
  const outcome = await applyRows(env, record, valid);
  errors.push(...outcome.errors);
  errors.sort((a, b) => a.row - b.row);

  const next = record.offset + start + split.consumed;
  const done = final && next >= record.bytes;
  const kept = [...record.errors, ...errors].slice(0, MAX_ERRORS);
  const moved = await env.DB.prepare(
    `UPDATE imports SET offset = ?, previous_offset = ?, columns = ?, rows = rows + ?, applied = applied + ?, duplicates = duplicates + ?, rejected = rejected + ?,
       errors = ?, status = ?, updated_at = ? WHERE id = ? AND offset = ? AND status IN ('queued', 'running')`,
  )
    .bind(next, record.offset, columns ? JSON.stringify(columns) : null, results.length, outcome.applied, outcome.duplicates, errors.length, JSON.stringify(kept), done ? "done" : "running", Date.now(), record.id, record.offset)
    .run();
  // Another delivery of this chunk recorded it first: it sends the next one.
  if (moved.meta.changes !== 1) return;
  if (done) await env.IMPORTS.delete(record.objectKey);
  else await sendNext(env, record, next);
}

const sendNext = (env: Pick<Env, "IMPORT_CHUNKS">, record: ImportRecord, offset: number) =>
  env.IMPORT_CHUNKS.send({ kind: "import", workspaceId: record.workspaceId, id: record.id, offset } satisfies ImportChunkMessage, { contentType: "json" });

async function fail(env: Pick<Env, "DB" | "IMPORTS">, record: ImportRecord, failure: string): Promise<void> {
  await drizzle(env.DB).update(imports).set({ status: "failed", failure, updatedAt: new Date() }).where(and(eq(imports.id, record.id), eq(imports.offset, record.offset)));
  await env.IMPORTS.delete(record.objectKey);
}

/** What is wrong with a CSV header, if anything. */
function headerProblem(columns: string[]): string | undefined {
  if (!columns.includes("userId") && !columns.includes("email")) return "The CSV header needs a userId or an email column.";
  const seen = new Set<string>();
  for (const column of columns) {
    const name = column === "userId" || column === "email" ? column : column.replace(/^traits\./, "");
    if (name === "") return "The CSV header has an empty column name.";
    if (seen.has(name)) return `The CSV header names ${name} twice.`;
    seen.add(name);
  }
  return undefined;
}

/**
 * Applies valid rows as identify calls, under the import's consent (its purposes, as an explicit
 * choice made when it was uploaded). Email-only rows join the profile the email index names, else
 * the profile whose userId is the email; the index learns every row's email at once, so a later
 * row (or chunk) of the same file finds it.
 */
async function applyRows(env: Env_, record: ImportRecord, rows: { row: number; value: ImportRow }[]) {
  const errors: { row: number; message: string }[] = [];
  let applied = 0;
  let duplicates = 0;
  if (rows.length === 0) return { errors, applied, duplicates };
  const db = drizzle(env.DB);
  const [site] = await db.select().from(sites).where(eq(sites.id, record.siteId)).limit(1);
  if (!site) {
    for (const { row } of rows) errors.push({ row, message: `row ${row}: the import's site is gone` });
    return { errors, applied, duplicates };
  }
  const ws = record.workspaceId;
  const emailsOnly = [...new Set(rows.filter((r) => !r.value.userId).map((r) => r.value.email!))];
  const known = new Map<string, ProfileKey>();
  for (let i = 0; i < emailsOnly.length; i += 90) {
    const found = await db
      .select({ email: profileEmails.email, key: profileEmails.profileKey })
      .from(profileEmails)
      .where(and(eq(profileEmails.workspaceId, ws), inArray(profileEmails.email, emailsOnly.slice(i, i + 90))));
    for (const f of found) known.set(f.email, f.key as ProfileKey);
  }
  // Rows with both a userId and an email teach the chunk's own email-only rows first.
  for (const { value } of rows) if (value.userId && value.email) known.set(value.email, profileKey(ws, { userId: value.userId })!);

  const createdAt = record.createdAt.getTime();
  const signals: ConsentSignals = { explicit: { purposes: Object.fromEntries(record.purposes.map((p) => [p, true])), at: createdAt }, serverSource: true };
  const policy = { purposes: site.purposes, defaults: site.consentDefaults ?? {}, policyVersion: site.policyVersion };
  const definitions = await liveDefinitions(env.DB, ws);
  const receivedAt = new Date().toISOString();
  const groups = new Map<ProfileKey, { row: number; event: CollectedEvent }[]>();
  const emailWrites = new Map<string, ProfileKey>();
  for (const { row, value } of rows) {
    const key = value.userId ? profileKey(ws, { userId: value.userId })! : (known.get(value.email!) ?? profileKey(ws, { userId: value.email! })!);
    if (value.email) emailWrites.set(value.email, key);
    const event: CollectedEvent = {
      type: "identify",
      ...(value.userId ? { userId: value.userId } : { userId: key.slice(`${ws}:user:`.length) }),
      traits: value.traits,
      messageId: await rowMessageId(record.siteId, value),
      timestamp: new Date(createdAt).toISOString(),
      receivedAt,
      context: { library: { name: "cohort-import", version: "1" }, import: { id: record.id, row } },
    };
    groups.set(key, [...(groups.get(key) ?? []), { row, event }]);
  }
  // An email-only row landing on an anonymous profile keeps its userId off: it is not the user's id.
  for (const [key, group] of groups) if (key.includes(":anon:")) for (const { event } of group) delete (event as { userId?: string }).userId;

  const messages: PipelineMessage[] = [];
  const entries = [...groups];
  for (let i = 0; i < entries.length; i += PARALLEL) {
    await Promise.all(
      entries.slice(i, i + PARALLEL).map(async ([key, group]) => {
        const result = await applyToProfile(env.PROFILES, { key, events: group.map((g) => g.event), signals, policy, retentionDays: site.retentionDays, definitions, siteId: site.id });
        if (result.erased || !mayProfile(result.consent)) {
          for (const { row } of group) errors.push({ row, message: `row ${row}: its profile was erased or may not be kept` });
          return;
        }
        applied += group.length;
        duplicates += result.duplicates;
        for (const { event } of group) messages.push({ kind: "event", workspaceId: ws, siteId: site.id, profileKey: result.key, event: withConsent(event, result.consent) });
      }),
    );
  }
  const now = Date.now();
  const writes = [...emailWrites].map(([email, key]) =>
    env.DB.prepare("INSERT INTO profile_emails (workspace_id, email, profile_key, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (workspace_id, email) DO UPDATE SET profile_key = excluded.profile_key, updated_at = excluded.updated_at").bind(ws, email, key, now),
  );
  for (let i = 0; i < writes.length; i += 100) await env.DB.batch(writes.slice(i, i + 100));
  await enqueue(env.EVENTS, messages);
  return { errors, applied, duplicates };
}
