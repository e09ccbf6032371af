// Training from the archive, through the admin API and the queue job, on synthetic data whose
// answer is known: a planted signal is found (AUC ≥ 0.8 on the held-out fifth, its feature the
// heaviest), pure noise is not (AUC 0.5 ± 0.05), too few positives is said plainly.
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../../worker/index";
import { scheduleRetraining } from "../../../worker/predictions/train";
import { adminCall, eventually } from "../helpers";
import { DAY, synthetic, trainThroughApi, writeArchive, type PredictionBody } from "./archive";

const goal = { name: "Likely to buy", goal: { event: "Order Completed" }, within: "30d" };

describe("a planted signal", () => {
  it("visitors who view a product three times mostly convert: AUC ≥ 0.8 and that count weighs most", async () => {
    const ws = "ws_pred_signal";
    const data = synthetic(3000, 1, Date.now(), (v, rand) => rand() < (v.views >= 3 ? 0.9 : 0.05));
    await writeArchive(ws, data.profiles);
    const prediction = await trainThroughApi(ws, goal);
    expect(prediction.status).toBe("ready");
    expect(prediction.version).toBe(1);
    expect(prediction.reason).toBeNull();
    const metrics = prediction.metrics!;
    expect(metrics.positives).toBe(data.positives);
    expect(metrics.positives + metrics.negatives).toBe(3000);
    expect(metrics.auc).toBeGreaterThanOrEqual(0.8);
    expect(metrics.logLoss).toBeLessThan(0.5);
    // The top tenth converts far more than average, the bottom tenth far less.
    expect(metrics.liftByDecile).toHaveLength(10);
    expect(metrics.liftByDecile[0]).toBeGreaterThan(1.5);
    expect(metrics.liftByDecile[9]).toBeLessThan(0.5);
    // Calibrated: on the held-out set the mean score is close to the observed rate.
    expect(Math.abs(metrics.calibration!.predicted - metrics.calibration!.observed)).toBeLessThan(0.03);
    expect(prediction.features[0]).toMatchObject({ name: "count:Product Viewed:30d" });
    expect(prediction.features[0]!.weight).toBeGreaterThan(0);
    expect(prediction.features.map((f) => f.name)).toEqual(expect.arrayContaining(["recency_days", "device:mobile", "count:Page Viewed:7d"]));
  });
});

describe("pure noise", () => {
  it("a goal unrelated to anything the visitor did: AUC within 0.5 ± 0.05", async () => {
    const ws = "ws_pred_noise";
    const data = synthetic(3000, 2, Date.now(), (_v, rand) => rand() < 0.3);
    await writeArchive(ws, data.profiles);
    const prediction = await trainThroughApi(ws, goal);
    expect(prediction.status).toBe("ready");
    expect(prediction.metrics!.positives).toBe(data.positives);
    expect(prediction.metrics!.auc).toBeGreaterThanOrEqual(0.45);
    expect(prediction.metrics!.auc).toBeLessThanOrEqual(0.55);
  });
});

describe("too little data", () => {
  it("fewer than 100 positives is insufficient_data, said plainly, with no model", async () => {
    const ws = "ws_pred_few";
    const data = synthetic(400, 3, Date.now(), (_v, rand) => rand() < 0.1);
    expect(data.positives).toBeLessThan(100);
    await writeArchive(ws, data.profiles);
    const prediction = await trainThroughApi(ws, goal);
    expect(prediction.status).toBe("insufficient_data");
    expect(prediction.version).toBe(0);
    expect(prediction.reason).toContain(`only ${data.positives} did "Order Completed"`);
    expect(prediction.reason).toContain("at least 100");
    expect(prediction.metrics).toMatchObject({ positives: data.positives, negatives: 400 - data.positives, auc: null });
    expect(prediction.features).toEqual([]);
  });

  it("the goal's where narrows the positives: a where nothing matches is insufficient_data", async () => {
    const ws = "ws_pred_where";
    await writeArchive(ws, synthetic(600, 4, Date.now(), (_v, rand) => rand() < 0.5).profiles);
    const prediction = await trainThroughApi(ws, { ...goal, goal: { event: "Order Completed", where: [{ property: "revenue", op: "gt", value: 1000 }] } });
    expect(prediction.status).toBe("insufficient_data");
    expect(prediction.metrics!.positives).toBe(0);
  });
});

describe("a goal on a page", () => {
  it("Page Viewed with a where on the path counts only visits of that page after the cut-off", async () => {
    const ws = "ws_pred_page";
    const now = Date.now();
    const cutoff = now - 30 * DAY;
    // 300 visitors seen before the cut-off; after it, 120 view /thanks, the others only /home.
    const profiles = Array.from({ length: 300 }, (_, i) => ({
      userId: `v${i}`,
      events: [
        { type: "page" as const, at: cutoff - DAY - i * 1000 },
        { type: "page" as const, at: cutoff + DAY, page: i < 120 ? "/thanks" : "/home" },
      ],
    }));
    await writeArchive(ws, profiles);
    const prediction = await trainThroughApi(ws, { name: "Completes", goal: { event: "Page Viewed", where: [{ property: "path", op: "eq", value: "/thanks" }] }, within: "30d" });
    expect(prediction.metrics).toMatchObject({ positives: 120, negatives: 180 });
    expect(prediction.status).toBe("ready");
  });
});

describe("the admin API", () => {
  it("refuses bad input with the error envelope and names the field", async () => {
    for (const [body, path] of [
      [{ ...goal, within: "30" }, "within"],
      [{ ...goal, within: "400d" }, "within"],
      [{ ...goal, goal: {} }, "goal.event"],
      [{ ...goal, goal: { event: "Order Completed", where: [{ property: "x", op: "most", value: 1 }] } }, "goal.where.0.op"],
      [{ ...goal, retrainEvery: "1w" }, "retrainEvery"],
      [{ goal: goal.goal, within: "30d" }, "name"],
    ] as const) {
      const res = await adminCall("/admin/api/predictions", { method: "POST", workspace: "ws_pred_api", body: JSON.stringify(body) });
      expect(res.status, JSON.stringify(body)).toBe(400);
      const answer = await res.json<{ error: { code: string; path: string } }>();
      expect(answer.error.code).toBe("invalid_request");
      expect(answer.error.path).toBe(path);
    }
    const viewer = await adminCall("/admin/api/predictions", { method: "POST", workspace: "ws_pred_api", role: "viewer", body: JSON.stringify(goal) });
    expect(viewer.status).toBe(403);
    expect((await adminCall("/admin/api/predictions/pred_missing", { workspace: "ws_pred_api" })).status).toBe(404);
  });

  it("lists, retrains (a new version), keeps other workspaces out, deletes", async () => {
    const ws = "ws_pred_crud";
    await writeArchive(ws, synthetic(1200, 5, Date.now(), (v, rand) => rand() < (v.views >= 3 ? 0.8 : 0.1)).profiles);
    const first = await trainThroughApi(ws, { ...goal, retrainEvery: "7d" });
    expect(first.status).toBe("ready");
    const list = await adminCall("/admin/api/predictions", { workspace: ws }).then((r) => r.json<{ predictions: PredictionBody[] }>());
    expect(list.predictions.map((p) => p.id)).toEqual([first.id]);
    expect((await adminCall(`/admin/api/predictions/${first.id}`, { workspace: "ws_pred_other" })).status).toBe(404);

    const retrain = await adminCall(`/admin/api/predictions/${first.id}/train`, { method: "POST", workspace: ws, role: "editor" });
    expect(retrain.status).toBe(202);
    expect((await retrain.json<PredictionBody>()).status).toBe("training");
    const second = await eventually(
      () => adminCall(`/admin/api/predictions/${first.id}`, { workspace: ws }).then((r) => r.json<PredictionBody>()),
      (p) => p.status !== "training",
      60_000,
    );
    expect(second).toMatchObject({ status: "ready", version: 2 });

    // The Cron trigger (the Worker's scheduled handler) queues it again only once its period has passed.
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() }), env);
    expect(await adminCall(`/admin/api/predictions/${first.id}`, { workspace: ws }).then((r) => r.json<PredictionBody>())).toMatchObject({ status: "ready", version: 2 });
    expect(await scheduleRetraining(env, Date.now() + DAY)).toEqual([]);
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now() + 7 * DAY }), env);
    const third = await eventually(
      () => adminCall(`/admin/api/predictions/${first.id}`, { workspace: ws }).then((r) => r.json<PredictionBody>()),
      (p) => p.status !== "training",
      60_000,
    );
    expect(third.version).toBe(3);

    expect((await adminCall(`/admin/api/predictions/${first.id}`, { method: "DELETE", workspace: ws, role: "editor" })).status).toBe(204);
    expect((await adminCall(`/admin/api/predictions/${first.id}`, { workspace: ws })).status).toBe(404);
    const after = await adminCall("/admin/api/predictions", { workspace: ws }).then((r) => r.json<{ predictions: PredictionBody[] }>());
    expect(after.predictions).toEqual([]);
  });
});
