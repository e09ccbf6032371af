/**
 * The predictions admin API (DESIGN.md §3 "Predictions"): create (queues the first training),
 * read with metrics and feature weights, list, retrain, delete. Training runs as a job on the
 * queue (worker/predictions/train.ts); a prediction is `training` until it has a result.
 */
import { Where } from "../segments/schema";
import type { AppContext } from "../env";
import { newId } from "../ids";
import { requestTraining } from "../predictions/train";
import { forgetModels, getPrediction, insertPrediction, listPredictionRows, updatePrediction, type PredictionRow } from "../store/predictions";
import { ApiError } from "./errors";
import { adminRoute, adminRouter, IdParams, jsonBody, jsonResponse, z } from "./openapi";

export const predictionRoutes = adminRouter();
const tags = ["Predictions"];

const Days = z
  .string()
  .regex(/^[1-9][0-9]{0,2}d$/, 'a period in days: "<n>d", n from 1 to 999')
  .refine((value) => Number(value.slice(0, -1)) <= 365, "at most 365d");

const Goal = z
  .object({
    event: z.string().min(1).max(200).openapi({ description: "The event name as rules see it (`Order Completed`, `Page Viewed`).", example: "Order Completed" }),
    where: z.array(Where).max(20).optional().openapi({ description: "Conditions on the goal event's properties, as in segment rules." }),
  })
  .strict()
  .openapi("PredictionGoal");

export const predictionInput = z
  .object({
    name: z.string().trim().min(1).max(120).openapi({ example: "Likely to buy" }),
    goal: Goal,
    within: Days.openapi({ description: "The window after the cut-off in which the goal counts.", example: "30d" }),
    retrainEvery: Days.nullish().openapi({ description: "Retrain this often (checked by the daily Cron trigger); none: only when asked.", example: "7d" }),
  })
  .strict()
  .openapi("NewPrediction");

const FeatureWeight = z.object({ name: z.string(), weight: z.number().openapi({ description: "On the standardised feature: comparable across features; positive raises the score." }) });

export const PredictionView = z
  .object({
    id: z.string(),
    name: z.string(),
    goal: Goal,
    within: z.string(),
    retrainEvery: z.string().nullable(),
    status: z.enum(["training", "ready", "insufficient_data"]),
    reason: z.string().nullable().openapi({ description: "Why the last training produced no model, in words." }),
    version: z.number().int().openapi({ description: "The model's version (0 before the first); profiles score with the latest." }),
    trainedAt: z.string().nullable().openapi({ format: "date-time" }),
    metrics: z
      .object({
        auc: z.number().nullable().openapi({ description: "On the held-out fifth: 0.5 is chance, 1 perfect." }),
        logLoss: z.number().nullable(),
        positives: z.number().int(),
        negatives: z.number().int(),
        liftByDecile: z.array(z.number()).openapi({ description: "Goal rate of each tenth (highest scores first) over the overall rate." }),
        calibration: z.object({ predicted: z.number(), observed: z.number() }).optional(),
        heldOut: z.number().int().optional(),
        cutoff: z.string().openapi({ format: "date-time" }),
      })
      .nullable(),
    features: z.array(FeatureWeight).openapi({ description: "Largest weight first." }),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Prediction");

function present(row: PredictionRow) {
  return {
    id: row.id,
    name: row.name,
    goal: row.goal as z.infer<typeof Goal>,
    within: row.within,
    retrainEvery: row.retrainEvery,
    status: row.status,
    reason: row.reason,
    version: row.version,
    trainedAt: row.trainedAt?.toISOString() ?? null,
    metrics: (row.metrics as z.input<typeof PredictionView>["metrics"]) ?? null,
    features: row.features ?? [],
    createdAt: row.createdAt.toISOString(),
  } satisfies z.input<typeof PredictionView>;
}

async function found(c: AppContext, id: string): Promise<PredictionRow> {
  const row = await getPrediction(c.env.DB, c.get("admin").ws, id);
  if (!row) throw new ApiError(404, "not_found", `No prediction ${id} in this workspace.`);
  return row;
}

predictionRoutes.openapi(
  adminRoute({
    method: "post",
    path: "/",
    role: "editor",
    tags,
    summary: "Create a prediction",
    description: "The likelihood that a visitor does the goal within the window. Its first training is queued at once (`status: training`).",
    request: { body: jsonBody(predictionInput) },
    responses: { 201: jsonResponse(PredictionView, "The prediction, training") },
  }),
  async (c) => {
    const input = c.req.valid("json");
    const now = Date.now();
    const row = await insertPrediction(c.env.DB, {
      id: newId("pred"),
      workspaceId: c.get("admin").ws,
      name: input.name,
      goal: input.goal,
      within: input.within,
      retrainEvery: input.retrainEvery ?? null,
      status: "training",
      requestedAt: new Date(now),
    });
    await requestTraining(c.env, row, now);
    return c.json(present(await found(c, row.id)), 201);
  },
);

predictionRoutes.openapi(
  adminRoute({ method: "get", path: "/", role: "viewer", tags, summary: "List predictions", responses: { 200: jsonResponse(z.object({ predictions: z.array(PredictionView) }), "Oldest first") } }),
  async (c) => c.json({ predictions: (await listPredictionRows(c.env.DB, c.get("admin").ws)).map(present) }, 200),
);

predictionRoutes.openapi(
  adminRoute({
    method: "get",
    path: "/{id}",
    role: "viewer",
    tags,
    summary: "A prediction, with its metrics and feature weights",
    request: { params: IdParams },
    responses: { 200: jsonResponse(PredictionView, "The prediction") },
  }),
  async (c) => c.json(present(await found(c, c.req.valid("param").id)), 200),
);

predictionRoutes.openapi(
  adminRoute({
    method: "post",
    path: "/{id}/train",
    role: "editor",
    tags,
    summary: "Retrain a prediction",
    description: "Queues a training on the archive as it is now; the current model keeps scoring until the new one is saved.",
    request: { params: IdParams },
    responses: { 202: jsonResponse(PredictionView, "The prediction, training") },
  }),
  async (c) => {
    const row = await found(c, c.req.valid("param").id);
    await requestTraining(c.env, row, Date.now());
    return c.json(present(await found(c, row.id)), 202);
  },
);

predictionRoutes.openapi(
  adminRoute({
    method: "delete",
    path: "/{id}",
    role: "editor",
    tags,
    summary: "Delete a prediction",
    description: "Profiles stop scoring with it; segment clauses naming it no longer match.",
    request: { params: IdParams },
    responses: { 204: { description: "Deleted" } },
  }),
  async (c) => {
    const row = await found(c, c.req.valid("param").id);
    await updatePrediction(c.env.DB, row.id, { deletedAt: new Date(), model: null });
    forgetModels(row.workspaceId);
    return c.body(null, 204);
  },
);
