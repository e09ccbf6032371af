/**
 * Training a prediction (a job on the EVENTS queue, `{kind: "train"}`): the dataset at the cut-off
 * (`now − within`), a deterministic held-out fifth, the logistic regression fitted on the rest,
 * its metrics on the held-out set, and the model saved to D1 with a new version (profiles pick it
 * up within the model cache's lifetime). Fewer than MIN_CLASS visitors who did the goal, or who
 * did not, is `insufficient_data`: no model, and the reason in words.
 */
import { sql } from "drizzle-orm";
import { enqueue } from "../pipeline/messages";
import { predictions } from "../store/schema";
import { durationMs } from "../segments/schema";
import { forgetModels, listPredictionRows, predictionById, updatePrediction, type PredictionRow } from "../store/predictions";
import { buildDataset, chooseSpec, type Archive, type Goal, type Window } from "./dataset";
import { auc, calibration, fitLogistic, isHeldOut, liftByDecile, logLoss, quantiles, round, scoreVector } from "./model";
import { DAY_MS, FEATURE_HISTORY_MS } from "./features";
import { retrainDue } from "./schedule";
import type { ModelDef } from "./score";

/** The fewest positives (and negatives) a model is trained on. */
export const MIN_CLASS = 100;

export interface Metrics {
  auc: number | null;
  logLoss: number | null;
  positives: number;
  negatives: number;
  liftByDecile: number[];
  /** Held-out set: mean score and observed goal rate (close when the model is calibrated). */
  calibration?: { predicted: number; observed: number };
  heldOut?: number;
  cutoff: string;
}

export type TrainingResult =
  | { status: "ready"; model: Omit<ModelDef, "id" | "version">; metrics: Metrics; features: { name: string; weight: number }[] }
  | { status: "insufficient_data"; reason: string; metrics: Metrics };

/** Trains a model for `goal` within `withinMs` on the archive as it was at `now − withinMs`. */
export async function train(db: Archive, workspaceId: string, goal: Goal, withinMs: number, now: number): Promise<TrainingResult> {
  const window: Window = { workspaceId, cutoff: now - withinMs, labelEnd: now };
  const spec = await chooseSpec(db, window);
  const data = await buildDataset(db, window, spec, goal);
  let positives = 0;
  for (let i = 0; i < data.rows; i++) positives += data.y[i]!;
  const negatives = data.rows - positives;
  const cutoff = new Date(window.cutoff).toISOString();
  const counts = { positives, negatives, cutoff, liftByDecile: [] as number[], auc: null, logLoss: null };
  if (positives < MIN_CLASS || negatives < MIN_CLASS) {
    const few = positives < MIN_CLASS ? `${positives} did "${goal.event}"` : `${negatives} did not do "${goal.event}"`;
    return {
      status: "insufficient_data",
      reason: `Not enough data: of the ${data.rows} visitors active in the ${FEATURE_HISTORY_MS / DAY_MS} days before ${cutoff}, only ${few} within the window after it; at least ${MIN_CLASS} of each are needed.`,
      metrics: counts,
    };
  }
  const trainRows: number[] = [];
  const testRows: number[] = [];
  data.keys.forEach((key, r) => (isHeldOut(key) ? testRows : trainRows).push(r));
  const model = fitLogistic(data, Uint32Array.from(trainRows));
  const scoreRow = (r: number) => scoreVector(model, data.x.subarray(r * data.width, (r + 1) * data.width));
  const testScores = Float64Array.from(testRows, scoreRow);
  const testLabels = Uint8Array.from(testRows, (r) => data.y[r]!);
  const all = Float64Array.from({ length: data.rows }, (_, r) => scoreRow(r));
  const heldAuc = auc(testScores, testLabels);
  const heldLoss = logLoss(testScores, testLabels);
  return {
    status: "ready",
    // Full precision: the profile's score must equal the trainer's.
    model: { spec, ...model, quantiles: quantiles(all, 100) },
    metrics: {
      auc: Number.isFinite(heldAuc) ? round(heldAuc, 4) : null,
      logLoss: Number.isFinite(heldLoss) ? round(heldLoss, 4) : null,
      positives,
      negatives,
      liftByDecile: liftByDecile(testScores, testLabels),
      calibration: calibration(testScores, testLabels),
      heldOut: testRows.length,
      cutoff,
    },
    features: data.names.map((name, j) => ({ name, weight: round(model.weights[j]!, 4) })).sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight)),
  };
}

/** Runs the training job of a prediction and saves what it produced. */
export async function trainPrediction(env: Pick<Env, "DB">, id: string, now: number): Promise<PredictionRow["status"] | undefined> {
  const row = await predictionById(env.DB, id);
  if (!row) return undefined;
  const result = await train(env.DB, row.workspaceId, row.goal as Goal, durationMs(row.within), now);
  if (result.status === "ready") {
    await updatePrediction(env.DB, id, {
      status: "ready",
      reason: null,
      // Two trainings that overlap still give two versions.
      version: sql`${predictions.version} + 1`,
      model: result.model as unknown as Record<string, unknown>,
      metrics: result.metrics as unknown as Record<string, unknown>,
      features: result.features,
      trainedAt: new Date(now),
      requestedAt: null,
    });
  } else {
    // No model from this data: profiles stop scoring with the old one too.
    await updatePrediction(env.DB, id, { status: "insufficient_data", reason: result.reason, model: null, metrics: result.metrics as unknown as Record<string, unknown>, features: [], trainedAt: new Date(now), requestedAt: null });
  }
  forgetModels(row.workspaceId);
  return result.status;
}

/** Marks a prediction as training and queues its job. */
export async function requestTraining(env: Pick<Env, "DB" | "EVENTS">, row: Pick<PredictionRow, "id" | "workspaceId">, now: number): Promise<void> {
  await updatePrediction(env.DB, row.id, { status: "training", requestedAt: new Date(now) });
  await enqueue(env.EVENTS, [{ kind: "train", workspaceId: row.workspaceId, predictionId: row.id }]);
}

/** The Cron trigger's part: queues the training of every prediction whose period has passed. */
export async function scheduleRetraining(env: Pick<Env, "DB" | "EVENTS">, now: number): Promise<string[]> {
  const due = (await listPredictionRows(env.DB)).filter((row) => retrainDue(row, now));
  for (const row of due) await requestTraining(env, row, now);
  return due.map((row) => row.id);
}
