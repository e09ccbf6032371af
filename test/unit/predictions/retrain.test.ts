// When the daily Cron trigger queues a prediction's training again.
import { describe, expect, it } from "vitest";
import { retrainDue, TRAINING_LOST_MS } from "../../../worker/predictions/schedule";

const NOW = Date.UTC(2025, 0, 15, 3, 17);
const DAY = 86_400_000;
const at = (ms: number) => new Date(ms);

describe("retrainDue", () => {
  it.each([
    ["no period: only when asked", { retrainEvery: null, trainedAt: at(NOW - 100 * DAY), requestedAt: null, status: "ready" }, false],
    ["a period, never trained", { retrainEvery: "7d", trainedAt: null, requestedAt: null, status: "insufficient_data" }, true],
    ["7d, trained 6 days ago", { retrainEvery: "7d", trainedAt: at(NOW - 6 * DAY), requestedAt: null, status: "ready" }, false],
    ["7d, trained 7 days ago", { retrainEvery: "7d", trainedAt: at(NOW - 7 * DAY), requestedAt: null, status: "ready" }, true],
    ["1d, trained yesterday a few minutes later in the day (the trigger's slack)", { retrainEvery: "1d", trainedAt: at(NOW - DAY + 10 * 60_000), requestedAt: null, status: "ready" }, true],
    ["a training already queued", { retrainEvery: "1d", trainedAt: at(NOW - 30 * DAY), requestedAt: at(NOW - 3_600_000), status: "training" }, false],
    ["a queued training lost a day ago is queued again", { retrainEvery: null, trainedAt: null, requestedAt: at(NOW - TRAINING_LOST_MS), status: "training" }, true],
  ] as const)("%s", (_name, row, due) => {
    expect(retrainDue(row, NOW)).toBe(due);
  });
});
