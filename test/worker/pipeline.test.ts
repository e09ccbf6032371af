// The queue consumer: D1 writes in batches, retried when D1 fails, never doubled on redelivery.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../worker/index";
import { retryDelaySeconds } from "../../worker/pipeline/consumer";
import type { PipelineMessage } from "../../worker/pipeline/messages";

function eventMessage(messageId: string): PipelineMessage {
  const now = new Date().toISOString();
  return {
    kind: "event",
    workspaceId: "ws_pipeline",
    siteId: "site_pipeline",
    profileKey: "ws_pipeline:user:u1",
    event: { type: "track", event: "Order Completed", userId: "u1", messageId, timestamp: now, receivedAt: now, context: {} },
  };
}

const failedMessage = (id: string): PipelineMessage => ({
  kind: "failed",
  workspaceId: "ws_pipeline",
  siteId: "site_pipeline",
  id,
  receivedAt: new Date().toISOString(),
  code: "invalid_event",
  message: "batch.0.event: required",
  path: "batch.0.event",
  batchIndex: 0,
  messageId: null,
  payload: "{}",
});

/** The real D1, except that writes fail, as they do when D1 is unavailable. */
const failingDb = new Proxy(env.DB, {
  get(target, property) {
    if (property === "batch") return () => Promise.reject(new Error("D1_ERROR: database is unavailable"));
    const value = Reflect.get(target, property);
    return typeof value === "function" ? value.bind(target) : value;
  },
});

async function deliver(messages: PipelineMessage[], db: D1Database, attempts = 1) {
  const batch = createMessageBatch<PipelineMessage>("cohort-events", messages.map((body, i) => ({ id: `msg-${i}`, timestamp: new Date(), attempts, body })));
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, DB: db });
  return getQueueResult(batch, ctx);
}

const count = async (sql: string, ...params: string[]) => (await env.DB.prepare(sql).bind(...params).first<{ n: number }>())!.n;

describe("the events consumer", () => {
  it("retries every message when D1 fails, then writes each exactly once", async () => {
    const ids = ["p-1", "p-2", "p-3"];
    const messages = [...ids.map(eventMessage), failedMessage("f-1")];

    const failing = await deliver(messages, failingDb);
    expect(failing.ackAll).toBe(false);
    expect(failing.explicitAcks).toEqual([]);
    expect(failing.retryMessages.map((m) => m.msgId).sort()).toEqual(["msg-0", "msg-1", "msg-2", "msg-3"]);
    expect(await count("SELECT COUNT(*) AS n FROM events WHERE workspace_id = ?", "ws_pipeline")).toBe(0);

    const retried = await deliver(messages, env.DB, 2);
    expect(retried.ackAll).toBe(true);
    expect(await count("SELECT COUNT(*) AS n FROM events WHERE workspace_id = ?", "ws_pipeline")).toBe(3);
    expect(await count("SELECT COUNT(*) AS n FROM failed_events WHERE id = ?", "f-1")).toBe(1);

    // The queue delivers at least once: the same batch again changes nothing.
    const redelivered = await deliver(messages, env.DB, 3);
    expect(redelivered.ackAll).toBe(true);
    expect(await count("SELECT COUNT(*) AS n FROM events WHERE workspace_id = ?", "ws_pipeline")).toBe(3);
    expect(await count("SELECT COUNT(*) AS n FROM failed_events WHERE id = ?", "f-1")).toBe(1);
  });

  it("backs off exponentially, up to five minutes", () => {
    expect([1, 2, 3, 8, 9, 20].map(retryDelaySeconds)).toEqual([2, 4, 8, 256, 300, 300]);
  });

  it("stores the archived event with its columns", async () => {
    await deliver([eventMessage("c-1")], env.DB);
    const row = await env.DB.prepare("SELECT * FROM events WHERE message_id = 'c-1'").first<Record<string, unknown>>();
    expect(row).toMatchObject({ type: "track", name: "Order Completed", user_id: "u1", profile_key: "ws_pipeline:user:u1", bot: 0 });
    expect(JSON.parse(row!.payload as string).event).toBe("Order Completed");
  });
});
