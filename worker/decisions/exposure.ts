/**
 * The event that records a visitor's first exposure to an experiment, as Segment's A/B testing
 * spec names it. Its messageId is derived from the experience, the variant and the profile, so the
 * profile records it once however often the visitor is shown the slot.
 */
import type { CollectedEvent } from "../collect/normalise";
import { idsOfKey } from "../identity/keys";
import type { Exposure } from "./choose";

export const EXPERIMENT_VIEWED = "Experiment Viewed";

export function exposureEvent(profileKey: string, exposure: Exposure, experimentName: string | undefined, now: number): CollectedEvent {
  const at = new Date(now).toISOString();
  return {
    type: "track",
    event: EXPERIMENT_VIEWED,
    messageId: `exposure:${exposure.experienceId}:${exposure.variantId}:${profileKey}`.slice(0, 255),
    ...idsOfKey(profileKey),
    properties: { experiment_id: exposure.experienceId, experiment_name: experimentName, variation_id: exposure.variantId },
    timestamp: at,
    receivedAt: at,
    context: {},
  };
}
