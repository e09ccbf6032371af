/** `webhook`: any HTTPS endpoint; each event is POSTed as JSON with Standard Webhooks headers. */
import { z } from "zod";
import type { DestinationKind } from "./types";

export const webhookConfig = z.object({ url: z.string().min(1).max(2048) }).strict();

export const webhook: DestinationKind<z.infer<typeof webhookConfig>> = {
  type: "webhook",
  defaultPurposes: ["analytics"],
  config: webhookConfig,
  secretFields: [],
  target: (config) => config.url,
};
