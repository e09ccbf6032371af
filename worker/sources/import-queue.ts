/**
 * The IMPORT_CHUNKS consumer: one import chunk per message (max_batch_size 1). A chunk that
 * throws is retried with a backoff; its rows are applied again harmlessly (each messageId once).
 */
import { retryDelaySeconds } from "../pipeline/retry";
import { runImportChunk, type ImportChunkMessage } from "./imports";

export async function consumeImportChunks(batch: MessageBatch<ImportChunkMessage>, env: Pick<Env, "DB" | "IMPORTS" | "IMPORT_CHUNKS" | "PROFILES" | "EVENTS">): Promise<void> {
  for (const message of batch.messages) {
    try {
      await runImportChunk(env, message.body);
      message.ack();
    } catch (error) {
      console.error(`import ${message.body.id} chunk at ${message.body.offset} failed; retrying`, error);
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}
