/**
 * What a destination type is: a small module behind one interface. `webhook` receives events;
 * `google_ads` and `meta` receive audiences (add/remove batches). A new type is one more module
 * listed in `kinds` (worker/activation/kinds.ts).
 */
import type { z } from "zod";
import type { Purpose } from "../consent/purposes";
import type { ConsentMode } from "./consent";

/** An HTTP request a destination makes, as stored with a delivery (no credentials in it). */
export interface PlannedRequest {
  method: "POST" | "DELETE";
  url: string;
  body: string;
}

/** One profile's change in an audience, with identifiers already normalised and hashed for the platform. */
export interface AudienceOp {
  op: "add" | "remove";
  identifiers: Record<string, string>;
  consentMode?: ConsentMode | null;
}

export interface DestinationKind<C = Record<string, unknown>> {
  type: string;
  /** Purposes required when the destination names none. */
  defaultPurposes: Purpose[];
  /** Validates `config` at creation and change. */
  config: z.ZodType<C>;
  /** Config fields that are credentials: stored, never shown back. */
  secretFields: string[];
  /** The URL the destination sends to (checked against the SSRF rules). */
  target(config: C): string;
  /** Headers added when sending (credentials), never stored with a delivery. */
  headers?(config: C): Record<string, string>;
  /** Ad platforms take audiences only; webhooks take events (and segment entries and exits as events). */
  audiences?: {
    platform: "google" | "meta";
    /** Most operations in one request. */
    maxPerRequest: number;
    /** Hashed identifiers of a profile (an empty object: nothing to match on). */
    identifiers(traits: Record<string, unknown>, config: C): Promise<Record<string, string>>;
    /** The requests for a batch of operations (each within `maxPerRequest`). */
    requests(config: C, ops: AudienceOp[]): PlannedRequest[];
  };
}

/** Splits `items` into chunks of at most `size`. */
export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
