/**
 * What travels through the EVENTS queue, from the request path to the consumer that writes D1.
 * One message per event keeps every message under the queue's 128 KB limit (events are ≤ 32 KB).
 */
import type { CollectedEvent } from "../collect/normalise";
import type { ConsentState } from "../consent/purposes";
import { idsOfKey, parseProfileKey } from "../identity/keys";

export type PipelineMessage =
  | { kind: "event"; workspaceId: string; siteId: string; profileKey: string | null; event: CollectedEvent }
  | {
      kind: "failed";
      workspaceId: string;
      siteId: string;
      id: string;
      receivedAt: string;
      code: string;
      message: string;
      path: string | null;
      batchIndex: number | null;
      messageId: string | null;
      payload: string;
    }
  /** An event of a visitor without analytics or personalisation consent: a count, nothing more. */
  | { kind: "cookieless"; siteId: string; day: string; type: string; name: string; messageId: string }
  /** A profile entered (member) or left a segment at `at`: the memberships index in D1. */
  | { kind: "membership"; workspaceId: string; segmentId: string; profileKey: string; member: boolean; at: number }
  /**
   * A profile that is gone (merged into another, consent withdrawn, expired): its memberships and
   * index row leave D1, and with `archive` its archived events too — those of `profileKey` and of
   * every key merged into it (`mergedKeys`: the pre-login profiles of a withdrawing user).
   */
  | { kind: "forget"; workspaceId: string; profileKey: string; mergedKeys?: string[]; archive: boolean }
  /**
   * Advertising consent withdrawn: ad click ids (gclid, fbclid, …) leave the page URLs, referrers
   * and campaign context of the archived events of `keys`.
   */
  | { kind: "strip_ads"; workspaceId: string; profileKey: string; keys: string[] }
  /** Train a prediction's model (predictions/train.ts). */
  | { kind: "train"; workspaceId: string; predictionId: string }
  /** Resume an erasure request (privacy/erasure.ts). */
  | { kind: "erase"; workspaceId: string; id: string }
  /** A page of profiles to evaluate a new or changed segment on (backfill), after `cursor`. */
  | {
      kind: "backfill";
      workspaceId: string;
      segmentId: string;
      version: number;
      cursor: string | null;
      /** The page's id in its chain (none: the first page). */
      page?: string;
    }
  /** A consent change for the ledger. */
  | {
      kind: "consent";
      id: string;
      workspaceId: string;
      siteId: string;
      /** The profile key, pseudonymised by the consumer; null for a visitor without a profile. */
      subject: string | null;
      at: number;
      signals: Record<string, unknown>;
      consent: ConsentState;
    };

/** Cloudflare Queues: at most 100 messages and 256 KB per sendBatch (measured in UTF-8 bytes). */
const MAX_MESSAGES = 100;
const MAX_BYTES = 200 * 1024;
const encoder = new TextEncoder();

/** A message's size as the queue counts it: the bytes of its JSON, plus room for its metadata. */
export const messageBytes = (body: PipelineMessage) => encoder.encode(JSON.stringify(body)).byteLength + 100;

/** Sends messages in as few `sendBatch` calls as the queue's limits allow. */
export async function enqueue(queue: Queue, messages: PipelineMessage[]): Promise<void> {
  // One message goes alone whatever its size (the queue refuses what it must): no need to measure it.
  if (messages.length === 1) return void (await queue.sendBatch([{ body: messages[0]!, contentType: "json" }]));
  let chunk: MessageSendRequest<PipelineMessage>[] = [];
  let bytes = 0;
  for (const body of messages) {
    const size = messageBytes(body);
    if (chunk.length === MAX_MESSAGES || (chunk.length > 0 && bytes + size > MAX_BYTES)) {
      await queue.sendBatch(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push({ body, contentType: "json" });
    bytes += size;
  }
  if (chunk.length > 0) await queue.sendBatch(chunk);
}

export const SEGMENT_ENTERED = "Segment Entered";
export const SEGMENT_EXITED = "Segment Exited";

/**
 * The messages for segment entries and exits of one profile: the memberships index, and the
 * `Segment Entered` / `Segment Exited` events in the archive, stamped with the exact time.
 */
export function membershipMessages(profileKey: string, siteId: string, changes: { segmentId: string; member: boolean; at: number }[]): PipelineMessage[] {
  const parsed = parseProfileKey(profileKey);
  if (!parsed) return [];
  const { workspaceId, id } = parsed;
  const now = new Date().toISOString();
  return changes.flatMap(({ segmentId, member, at }) => [
    { kind: "membership" as const, workspaceId, segmentId, profileKey, member, at },
    {
      kind: "event" as const,
      workspaceId,
      siteId,
      profileKey,
      event: {
        type: "track" as const,
        event: member ? SEGMENT_ENTERED : SEGMENT_EXITED,
        messageId: `segment:${segmentId}:${member ? "in" : "out"}:${at}:${id}`.slice(0, 255),
        ...idsOfKey(profileKey),
        properties: { segmentId },
        timestamp: new Date(at).toISOString(),
        receivedAt: now,
        context: {},
      },
    },
  ]);
}

export function forgetMessage(profileKey: string, archive: boolean, mergedKeys?: string[]): PipelineMessage {
  return { kind: "forget", workspaceId: parseProfileKey(profileKey)?.workspaceId ?? "", profileKey, ...(mergedKeys?.length ? { mergedKeys } : {}), archive };
}

/** Strips ad click ids from the archived events of `profileKey` and `mergedKeys`. */
export function stripAdsMessage(profileKey: string, mergedKeys: string[] = []): PipelineMessage {
  return { kind: "strip_ads", workspaceId: parseProfileKey(profileKey)?.workspaceId ?? "", profileKey, keys: [...new Set([profileKey, ...mergedKeys])] };
}
