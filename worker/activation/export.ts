/**
 * Audience export (DESIGN.md §3): a segment's members streamed as CSV (header row) or NDJSON, page
 * by page from the memberships index (keyset pagination: memory stays one page whatever the size).
 * Fields: `userId`, `anonymousId`, `profileKey`, `email`, `phone`, `traits.<name>`. With `hash`,
 * emails and phones become SHA-256 of their normalised form (email trimmed and lowercased; phone
 * E.164). With `purpose`, only members whose consent grants it. A profile is read from its
 * Durable Object only when a field or the purpose needs it.
 */
import type { Purpose } from "../consent/purposes";
import { parseProfileKey, type ProfileKey } from "../identity/keys";
import type { ProfileView } from "../profile/contract";
import { viewProfile } from "../profile/profiles";
import { normaliseEmail, normalisePhone, sha256Hex } from "./hashing";

export const EXPORT_PAGE = 500;
const LOOKUP_CONCURRENCY = 20;

export interface ExportOptions {
  segmentId: string;
  workspaceId: string;
  format: "csv" | "ndjson";
  fields: string[];
  hash?: "sha256";
  purpose?: Purpose;
}

const KEY_FIELDS = new Set(["userId", "anonymousId", "profileKey"]);
const needsProfile = (o: ExportOptions) => o.purpose !== undefined || o.fields.some((f) => !KEY_FIELDS.has(f));

/** A CSV cell: quoted when it holds a comma, quote or line break. */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return "";
  const text = typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

async function hashed(field: "email" | "phone", value: unknown): Promise<string | undefined> {
  const normal = field === "email" ? normaliseEmail(value, "generic") : normalisePhone(value);
  return normal ? sha256Hex(normal) : undefined;
}

async function rowOf(key: string, profile: ProfileView | null, o: ExportOptions): Promise<Record<string, unknown>> {
  const parsed = parseProfileKey(key);
  const identity = (kind: string) => profile?.identities.find((i) => i.kind === kind)?.value;
  const out: Record<string, unknown> = {};
  for (const field of o.fields) {
    let value: unknown;
    if (field === "profileKey") value = key;
    else if (field === "userId") value = identity("userId") ?? (parsed?.kind === "user" ? parsed.id : undefined);
    else if (field === "anonymousId") value = identity("anonymousId") ?? (parsed?.kind === "anon" ? parsed.id : undefined);
    else if (field === "email" || field === "phone") value = profile?.traits[field];
    else if (field.startsWith("traits.")) value = profile?.traits[field.slice("traits.".length)];
    const base = field.startsWith("traits.") ? field.slice("traits.".length) : field;
    if (o.hash && (base === "email" || base === "phone") && value !== undefined) value = (await hashed(base, value)) ?? null;
    out[field] = value ?? null;
  }
  return out;
}

/** The export as a byte stream, read from D1 a page at a time as the client takes it. */
export function exportMembers(env: Pick<Env, "DB" | "PROFILES">, o: ExportOptions): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let cursor = "";
  let started = false;
  let finished = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Pages whose members are all filtered out produce nothing: read on until a line is made.
        for (;;) {
          if (finished) return controller.close();
          let text = "";
          if (!started) {
            started = true;
            if (o.format === "csv") text += `${o.fields.map(csvCell).join(",")}\r\n`;
          }
          const { results } = await env.DB.prepare(
            "SELECT profile_key FROM memberships WHERE segment_id = ? AND workspace_id = ? AND member = 1 AND profile_key > ? ORDER BY profile_key LIMIT ?",
          )
            .bind(o.segmentId, o.workspaceId, cursor, EXPORT_PAGE)
            .all<{ profile_key: string }>();
          if (results.length < EXPORT_PAGE) finished = true;
          if (results.length > 0) cursor = results.at(-1)!.profile_key;
          const keys = results.map((r) => r.profile_key);
          const profiles = needsProfile(o) ? await lookups(env, keys) : keys.map(() => null);
          for (let i = 0; i < keys.length; i++) {
            const profile = profiles[i]!;
            if (needsProfile(o) && !profile) continue;
            if (o.purpose && profile?.consent?.purposes[o.purpose] !== true) continue;
            const row = await rowOf(keys[i]!, profile, o);
            text += o.format === "csv" ? `${o.fields.map((f) => csvCell(row[f])).join(",")}\r\n` : `${JSON.stringify(row)}\n`;
          }
          if (text) return controller.enqueue(encoder.encode(text));
        }
      },
    },
    { highWaterMark: 1 },
  );
}

async function lookups(env: Pick<Env, "PROFILES">, keys: string[]): Promise<(ProfileView | null)[]> {
  const out: (ProfileView | null)[] = new Array(keys.length).fill(null);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(LOOKUP_CONCURRENCY, keys.length) }, async () => {
      while (next < keys.length) {
        const i = next++;
        out[i] = await viewProfile(env.PROFILES, keys[i]! as ProfileKey);
      }
    }),
  );
  return out;
}
