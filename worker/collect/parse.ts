/**
 * From a request body to validated events: size limits, JSON, the batch envelope, then each event
 * against the Segment schema. One bad event never sinks the others: it becomes a `Rejection`
 * (kept with its payload, to be stored as a failed event) and the rest go on.
 */
import { ApiError, issuePath } from "../errors";
import { batchEnvelopeSchema, eventSchemas, type EventType, type IncomingEvent } from "./schema";

export const MAX_EVENT_BYTES = 32 * 1024;
/** Deeper JSON than this is refused: no real event needs it, and it would exhaust stacks downstream. */
export const MAX_DEPTH = 32;
export const MAX_BATCH_BYTES = 500 * 1024;

export interface Rejection {
  index: number;
  code: string;
  message: string;
  path: string;
  /** The event as received, to be stored with the reason. */
  payload: unknown;
}

export interface ParsedEvents {
  events: { index: number; event: IncomingEvent }[];
  rejected: Rejection[];
  /** `sentAt` of the request, for clock-skew correction. */
  sentAt?: string;
  /** True for single-event endpoints, whose one failure is the request's failure (400). */
  single?: boolean;
}

const encoder = new TextEncoder();
export const byteLength = (text: string) => encoder.encode(text).byteLength;

/** Parses JSON, mapping a syntax error to the 400 envelope. */
export function parseJson(text: string): unknown {
  if (text.trim() === "") throw new ApiError(400, "invalid_json", "The body is empty; send a JSON object.");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, "invalid_json", `The body is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The path of the first value nested deeper than `MAX_DEPTH`, or undefined. Iterative, so a
 * hostile body cannot overflow the stack here either.
 */
export function tooDeep(value: unknown, prefix: PropertyKey[] = []): string | undefined {
  const stack: { value: unknown; path: PropertyKey[] }[] = [{ value, path: prefix }];
  while (stack.length > 0) {
    const { value: node, path } = stack.pop()!;
    if (typeof node !== "object" || node === null) continue;
    if (path.length - prefix.length >= MAX_DEPTH) return path.map(String).join(".");
    for (const [key, child] of Object.entries(node)) stack.push({ value: child, path: [...path, key] });
  }
  return undefined;
}

/**
 * Validates one event. `type` comes from the path for single-event endpoints and from the
 * event itself inside a batch.
 */
function validateEvent(raw: unknown, index: number, prefix: PropertyKey[], type?: EventType): { event?: IncomingEvent; rejection?: Rejection } {
  const at = (path: string) => [...prefix.map(String), path].filter(Boolean).join(".");
  if (!isObject(raw)) {
    return { rejection: { index, code: "invalid_event", message: "an event must be a JSON object", path: at(""), payload: raw } };
  }
  const size = byteLength(JSON.stringify(raw));
  if (size > MAX_EVENT_BYTES) {
    return {
      rejection: {
        index,
        code: "event_too_large",
        message: `the event is ${size} bytes; the limit is ${MAX_EVENT_BYTES}`,
        path: at(""),
        payload: raw,
      },
    };
  }
  const deep = tooDeep(raw, prefix);
  if (deep !== undefined) {
    return { rejection: { index, code: "invalid_event", message: `${deep}: nested deeper than ${MAX_DEPTH} levels`, path: deep, payload: raw } };
  }
  const eventType = type ?? raw.type;
  if (typeof eventType !== "string" || !Object.hasOwn(eventSchemas, eventType)) {
    return {
      rejection: {
        index,
        code: "invalid_event",
        message: `type must be one of ${Object.keys(eventSchemas).join(", ")}`,
        path: at("type"),
        payload: raw,
      },
    };
  }
  const result = eventSchemas[eventType as EventType].safeParse({ ...raw, type: eventType });
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issuePath(prefix, issue);
    return { rejection: { index, code: "invalid_event", message: `${path}: ${issue.message}`, path, payload: raw } };
  }
  return { event: result.data as IncomingEvent };
}

/**
 * The body of a single-event endpoint (`/v1/track`, `/v1/t`, …). A bad event is returned as a
 * rejection, not thrown, so it can be stored before the request is answered with an error.
 */
export function parseSingle(body: unknown, type: EventType): ParsedEvents {
  const { event, rejection } = validateEvent(body, 0, [], type);
  if (rejection) return { events: [], rejected: [rejection], single: true };
  return { events: [{ index: 0, event: event! }], rejected: [], sentAt: event!.sentAt, single: true };
}

/** The body of `/v1/batch`: envelope fields (context, integrations) are merged into each event. */
export function parseBatch(body: unknown): ParsedEvents {
  const envelope = batchEnvelopeSchema.safeParse(body);
  if (!envelope.success) {
    const issue = envelope.error.issues[0]!;
    const path = issuePath([], issue) || "batch";
    throw new ApiError(400, "invalid_batch", `${path}: ${issue.message}`, { path });
  }
  const { batch, context, integrations, sentAt } = envelope.data;
  const deep = tooDeep({ context, integrations });
  if (deep !== undefined) throw new ApiError(400, "invalid_batch", `${deep}: nested deeper than ${MAX_DEPTH} levels`, { path: deep });
  const parsed: ParsedEvents = { events: [], rejected: [], sentAt };
  batch.forEach((raw, index) => {
    const merged = isObject(raw) && (context || integrations)
      ? {
          ...raw,
          context: { ...context, ...(isObject(raw.context) ? raw.context : {}) },
          integrations: { ...integrations, ...(isObject(raw.integrations) ? raw.integrations : {}) },
        }
      : raw;
    const { event, rejection } = validateEvent(merged, index, ["batch", index]);
    if (rejection) parsed.rejected.push({ ...rejection, payload: raw });
    else parsed.events.push({ index, event: event! });
  });
  return parsed;
}
