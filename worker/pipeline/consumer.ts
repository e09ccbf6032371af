/**
 * The EVENTS queue consumer: writes a batch of messages to D1 in one transaction (`db.batch`).
 * Every insert is keyed (events by workspace + messageId, failed events by id), so a batch that is
 * redelivered after a partial failure writes nothing twice. When D1 fails, the whole batch is
 * retried with a backoff; after `max_retries` the queue moves it to the dead-letter queue.
 */
import { drizzle } from "drizzle-orm/d1";
import type { BatchItem } from "drizzle-orm/batch";
import { events, failedEvents } from "../store/schema";
import type { CollectedEvent } from "../collect/normalise";
import type { PipelineMessage } from "./messages";

/** The name column: the event of a track, the name of a page or screen. */
function eventName(event: CollectedEvent): string | null {
  if (event.type === "track") return event.event;
  if (event.type === "page" || event.type === "screen") return event.name ?? null;
  return null;
}

/** Exponential backoff for a failed D1 write: 2 s, 4 s, 8 s … capped at five minutes. */
export const retryDelaySeconds = (attempts: number) => Math.min(300, 2 ** attempts);

export async function consumeEvents(batch: MessageBatch<PipelineMessage>, env: Pick<Env, "DB">): Promise<void> {
  const db = drizzle(env.DB);
  const writes: BatchItem<"sqlite">[] = [];
  for (const { body } of batch.messages) {
    if (body.kind === "event") {
      const event = body.event;
      writes.push(
        db
          .insert(events)
          .values({
            workspaceId: body.workspaceId,
            messageId: event.messageId,
            siteId: body.siteId,
            type: event.type,
            name: eventName(event),
            profileKey: body.profileKey,
            userId: event.userId ?? null,
            anonymousId: event.anonymousId ?? null,
            bot: event.context.bot === true,
            timestamp: new Date(event.timestamp),
            receivedAt: new Date(event.receivedAt),
            payload: JSON.stringify(event),
          })
          .onConflictDoNothing(),
      );
    } else {
      writes.push(
        db
          .insert(failedEvents)
          .values({
            id: body.id,
            siteId: body.siteId,
            workspaceId: body.workspaceId,
            receivedAt: new Date(body.receivedAt),
            code: body.code,
            message: body.message,
            path: body.path,
            batchIndex: body.batchIndex,
            messageId: body.messageId,
            payload: body.payload,
          })
          .onConflictDoNothing(),
      );
    }
  }
  if (writes.length === 0) return;
  try {
    await db.batch(writes as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
    batch.ackAll();
  } catch (error) {
    const attempts = Math.max(...batch.messages.map((m) => m.attempts));
    console.error(`D1 write of ${batch.messages.length} messages failed (attempt ${attempts}); retrying`, error);
    batch.retryAll({ delaySeconds: retryDelaySeconds(attempts) });
  }
}
