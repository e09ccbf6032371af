/**
 * Cohort's Worker: the HTTP app (collection, admin API, tag), the queue consumer that writes D1,
 * and the ProfileStore Durable Object class.
 */
import { app } from "./http/app";
import { consumeEvents } from "./pipeline/consumer";
import type { PipelineMessage } from "./pipeline/messages";

export { ProfileStore } from "./profile/store";

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    await consumeEvents(batch as MessageBatch<PipelineMessage>, env);
  },
} satisfies ExportedHandler<Env, PipelineMessage>;
