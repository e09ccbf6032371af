/**
 * What travels through the EVENTS queue, from the request path to the consumer that writes D1.
 * One message per event keeps every message under the queue's 128 KB limit (events are ≤ 32 KB).
 */
import type { CollectedEvent } from "../collect/normalise";
import type { ConsentState } from "../consent/purposes";

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

/** Cloudflare Queues: at most 100 messages and 256 KB per sendBatch. */
const MAX_MESSAGES = 100;
const MAX_BYTES = 200 * 1024;

/** Sends messages in as few `sendBatch` calls as the queue's limits allow. */
export async function enqueue(queue: Queue, messages: PipelineMessage[]): Promise<void> {
  let chunk: MessageSendRequest<PipelineMessage>[] = [];
  let bytes = 0;
  for (const body of messages) {
    const size = JSON.stringify(body).length + 100;
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
