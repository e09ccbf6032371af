/**
 * One import row → the identify call it stands for, or the reason it is refused (README "Imports").
 * A row names its profile by `userId`, or by `email` alone; every other column (`traits.x` or `x`)
 * is trait `x`. CSV cells are typed: `42`, `-1.5` → numbers, `true`/`false` → booleans; anything
 * else (`007`, `1e3`, dates) stays text; an empty cell sets nothing. NDJSON values keep their JSON
 * types (`null` sets nothing).
 */
import { MAX_EVENT_BYTES } from "../collect/parse";
import { MAX_TRAITS } from "../profile/limits";

export const MAX_ID = 255;
export const MAX_TRAIT_NAME = 128;
export const MAX_TRAIT_TEXT = 8192;
const MAX_EMAIL = 254;

const EMAIL = /^[^\s@"<>,;]+@[^\s@"<>,;]+\.[^\s@"<>,;]+$/;
const NUMBER = /^-?(0|[1-9]\d{0,14})(\.\d+)?$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface ImportRow {
  userId?: string;
  /** Normalised (trimmed, lowercased). */
  email?: string;
  traits: Record<string, unknown>;
}

export type RowResult = { ok: true; row: ImportRow } | { ok: false; message: string };

/** An email as the index keeps it, or undefined when it is not one. */
export function normaliseEmail(value: string): string | undefined {
  const email = value.trim().toLowerCase();
  return email.length <= MAX_EMAIL && EMAIL.test(email) ? email : undefined;
}

/** A CSV cell's value: numbers and booleans typed, empty as undefined, the rest text. */
export function typedCell(cell: string): unknown {
  if (cell === "") return undefined;
  if (NUMBER.test(cell)) return Number(cell);
  const lower = cell.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  return cell;
}

/** The trait a column names (`traits.plan` and `plan` → `plan`); the id columns name none. */
export const traitOfColumn = (column: string) => (column.startsWith("traits.") ? column.slice("traits.".length) : column);

/** A CSV row from its header's columns and its cells. */
export function csvRow(columns: string[], cells: string[]): RowResult {
  if (cells.length !== columns.length) return { ok: false, message: `has ${cells.length} fields; the header has ${columns.length}` };
  const fields: Record<string, unknown> = {};
  columns.forEach((column, i) => (fields[column] = column === "userId" || column === "email" ? cells[i]!.trim() || undefined : typedCell(cells[i]!)));
  return toRow(fields);
}

/** An NDJSON line: `{userId?, email?, traits?: {…}, …}` (top-level fields besides these are traits). */
export function ndjsonRow(line: string): RowResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, message: "is not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, message: "is not a JSON object" };
  const { traits, ...rest } = value as Record<string, unknown>;
  if (traits !== undefined && (typeof traits !== "object" || traits === null || Array.isArray(traits))) return { ok: false, message: "traits: must be an object" };
  const fields: Record<string, unknown> = { ...rest };
  for (const [name, v] of Object.entries((traits as Record<string, unknown> | undefined) ?? {})) fields[`traits.${name}`] = v;
  if (typeof fields.userId === "number" && Number.isFinite(fields.userId)) fields.userId = String(fields.userId);
  return toRow(fields);
}

function toRow(fields: Record<string, unknown>): RowResult {
  const { userId, email, ...others } = fields;
  const row: ImportRow = { traits: {} };
  if (userId !== undefined && userId !== null) {
    if (typeof userId !== "string") return { ok: false, message: "userId: must be a string or a number" };
    const id = userId.trim();
    if (id.length === 0 || id.length > MAX_ID || LONE_SURROGATE.test(id)) return { ok: false, message: `userId: must be 1 to ${MAX_ID} characters of text` };
    row.userId = id;
  }
  if (email !== undefined && email !== null && email !== "") {
    const normalised = typeof email === "string" ? normaliseEmail(email) : undefined;
    if (!normalised) return { ok: false, message: "email: is not an email address" };
    row.email = normalised;
    row.traits.email = normalised;
  }
  if (!row.userId && !row.email) return { ok: false, message: "names no profile: it needs a userId or an email" };
  for (const [column, value] of Object.entries(others)) {
    if (value === undefined || value === null) continue;
    const name = traitOfColumn(column);
    if (name.length === 0 || name.length > MAX_TRAIT_NAME || LONE_SURROGATE.test(name)) return { ok: false, message: `trait "${column.slice(0, 40)}": its name must be 1 to ${MAX_TRAIT_NAME} characters` };
    const text = typeof value === "string" ? value : JSON.stringify(value);
    if (text.length > MAX_TRAIT_TEXT) return { ok: false, message: `trait ${name}: its value is over ${MAX_TRAIT_TEXT} characters` };
    if (typeof value === "string" && LONE_SURROGATE.test(value)) return { ok: false, message: `trait ${name}: must be valid Unicode text` };
    row.traits[name] = value;
  }
  if (Object.keys(row.traits).length > MAX_TRAITS) return { ok: false, message: `has over ${MAX_TRAITS} traits` };
  if (JSON.stringify(row).length > MAX_EVENT_BYTES) return { ok: false, message: `is over ${MAX_EVENT_BYTES} bytes` };
  return { ok: true, row };
}

/** A row's messageId: the same content on the same site is the same identify call, applied once. */
export async function rowMessageId(siteId: string, row: ImportRow): Promise<string> {
  const canonical = JSON.stringify([siteId, row.userId ?? null, row.email ?? null, Object.entries(row.traits).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(canonical));
  return `import:${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
