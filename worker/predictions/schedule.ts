/**
 * When a prediction is trained again (the daily Cron trigger asks this of each one): a pure
 * function of its training state and the time.
 */
import { durationMs } from "../segments/schema";

/** What the schedule reads of a stored prediction. */
export interface TrainingState {
  /** `"<n>d"`, or null: only when asked. */
  retrainEvery: string | null;
  trainedAt: Date | null;
  /** Set while a training is queued or running. */
  requestedAt: Date | null;
}

/** A queued training that has not finished after this long is taken for lost (queued again by the Cron trigger). */
export const TRAINING_LOST_MS = 86_400_000;

/**
 * Whether the Cron trigger should queue a training at `now`: the retraining period has passed
 * and none is queued, or a queued one was lost (a day without a result).
 */
export function retrainDue(row: TrainingState, now: number): boolean {
  if (row.requestedAt) return row.requestedAt.getTime() + TRAINING_LOST_MS <= now;
  if (!row.retrainEvery) return false;
  // The daily trigger rings at about the same time each day: an hour's slack keeps "every 1d" daily.
  return !row.trainedAt || row.trainedAt.getTime() + durationMs(row.retrainEvery) - 3_600_000 <= now;
}

