/**
 * Cohort's Worker: the HTTP app (collection, admin API, tag), the queue consumers (EVENTS writes
 * D1, runs jobs such as trainings; DELIVERIES sends to destinations; IMPORT_CHUNKS applies imports), the daily
 * retention and retraining job, and the ProfileStore Durable
 * Object class.
 */
import { consumeDeliveries } from "./activation/deliver";
import type { DeliveryMessage } from "./activation/messages";
import { app } from "./http/app";
import { consumeEvents } from "./pipeline/consumer";
import type { PipelineMessage } from "./pipeline/messages";
import { purgeExpired } from "./pipeline/retention";
import { scheduleRetraining } from "./predictions/train";
import { resumeErasures } from "./privacy/erasure";
import { consumeImportChunks } from "./sources/import-queue";
import type { ImportChunkMessage } from "./sources/imports";

export { ProfileStore } from "./profile/store";

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    if (batch.queue.startsWith("cohort-deliveries")) return consumeDeliveries(batch as MessageBatch<DeliveryMessage>, env);
    if (batch.queue.startsWith("cohort-imports")) return consumeImportChunks(batch as MessageBatch<ImportChunkMessage>, env);
    await consumeEvents(batch as MessageBatch<PipelineMessage>, env);
  },
  async scheduled(controller, env) {
    const purged = await purgeExpired(env, controller.scheduledTime);
    console.log("retention", JSON.stringify(purged));
    // Erasure requests whose queued retries were lost (the queue down too) resume here.
    console.log("erasure", JSON.stringify(await resumeErasures(env, controller.scheduledTime)));
    // Predictions whose retraining period has passed are queued for training.
    console.log("retrain", JSON.stringify(await scheduleRetraining(env, controller.scheduledTime)));
  },
} satisfies ExportedHandler<Env, PipelineMessage | DeliveryMessage | ImportChunkMessage>;
