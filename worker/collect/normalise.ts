/**
 * Normalisation: every accepted event leaves here with a messageId, a corrected timestamp and
 * a receivedAt, whatever the sender filled in.
 */
import type { IncomingEvent } from "./schema";

export type Context = NonNullable<IncomingEvent["context"]> & Record<string, unknown>;

/** An event after normalisation and enrichment: what profiles, the archive and destinations see. */
export type CollectedEvent = IncomingEvent & {
  messageId: string;
  /** When it happened, corrected for the sender's clock skew (ISO-8601). */
  timestamp: string;
  /** When Cohort received it (ISO-8601). */
  receivedAt: string;
  context: Context;
};

/**
 * Fills in messageId and times. Clock skew is corrected as Segment does: when the sender says
 * when it sent the request (`sentAt`), the event's time is `receivedAt - (sentAt - timestamp)`,
 * so a browser whose clock is an hour off still lands events at the right moment. The sender's own
 * value is kept as `originalTimestamp`.
 */
const EARLIEST = Date.UTC(2000, 0, 1);

export function normalise(event: IncomingEvent, receivedAt: Date, batchSentAt?: string): CollectedEvent {
  const received = receivedAt.getTime();
  const sentAt = event.sentAt ?? batchSentAt;
  const original = event.timestamp ?? event.originalTimestamp;
  let time = original ? Date.parse(original) : received;
  if (original && sentAt) time = received - (Date.parse(sentAt) - Date.parse(original));
  // Nothing happens in the future, or before 2000: an absurd time means a broken clock.
  if (!Number.isFinite(time) || time > received || time < EARLIEST) time = received;
  // RudderStack's SDK sends an identify's traits in `context.traits` only (Segment's spec allows both).
  const contextTraits = event.context?.traits;
  const traits =
    event.type === "identify" && event.traits === undefined && typeof contextTraits === "object" && contextTraits !== null && !Array.isArray(contextTraits)
      ? { traits: contextTraits as Record<string, unknown> }
      : {};
  return {
    ...event,
    ...traits,
    messageId: event.messageId ?? crypto.randomUUID(),
    timestamp: new Date(time).toISOString(),
    ...(original ? { originalTimestamp: original } : {}),
    receivedAt: receivedAt.toISOString(),
    context: { ...event.context } as Context,
  };
}
