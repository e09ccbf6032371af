// Faults on the way from request to D1 never lose or double an event: D1 failing under the
// consumer, the queue refusing a send, a Durable Object evicted mid-stream.
import { createExecutionContext, createMessageBatch, evictDurableObject, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ingest } from "../../../worker/flows/ingest";
import { parseBatch, parseSingle } from "../../../worker/collect/parse";
import { newVisitorId } from "../../../worker/identity/cookie";
import { profileStub } from "../../../worker/identity/keys";
import worker from "../../../worker/index";
import type { PipelineMessage } from "../../../worker/pipeline/messages";
import { findSiteByKey, type Site } from "../../../worker/store/sites";
import { adminCall, BASE, createSite, drainQueue, eventually, lookup, serverPost, type TestSite } from "../helpers";

let site: TestSite;
let row: Site;
beforeAll(async () => {
  site = await createSite();
  row = (await findSiteByKey(env.DB, site.secretKey))!;
});
// The Worker logs each injected failure; the assertions here are what matters.
beforeEach(() => void vi.spyOn(console, "error").mockImplementation(() => {}));
afterEach(() => vi.restoreAllMocks());

/** `env` with one binding's method replaced (the real binding otherwise). */
function faulty<T extends object>(target: T, method: PropertyKey, replacement: (...args: unknown[]) => unknown): T {
  return new Proxy(target, {
    get(t, property) {
      if (property === method) return replacement;
      const value = Reflect.get(t, property);
      return typeof value === "function" ? value.bind(t) : value;
    },
  });
}

const unavailable = (what: string) => () => Promise.reject(new Error(`${what}: unavailable`));

const archivedCount = async (messageId: string) =>
  (await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE message_id = ?").bind(messageId).first<{ n: number }>())!.n;

const counters = async (userId: string) => (await (await lookup(`userId=${userId}`)).json<{ counters: Record<string, number> }>()).counters;

function ingestRequest(body: unknown) {
  return {
    site: row,
    source: "server" as const,
    parsed: parseSingle(body, "track"),
    newVisitorId,
    edge: { userAgent: "bench", cf: undefined },
    receivedAt: new Date(),
  };
}

describe("D1 failing during the consumer's write", () => {
  it("is retried with the events the request path queued, then archived exactly once", async () => {
    // Capture what a real request queues, then play the queue: D1 down, down, back up, redelivered.
    const queued: PipelineMessage[] = [];
    const capture = { sendBatch: async (batch: MessageSendRequest<PipelineMessage>[]) => void queued.push(...batch.map((m) => m.body)), send: async () => {} };
    const body = { batch: [1, 2, 3].map((i) => ({ type: "track", userId: "u-d1", messageId: `d1-${i}`, event: "Order Completed" })).concat([{ type: "track", userId: "u-d1" } as never]) };
    await ingest({ PROFILES: env.PROFILES, EVENTS: capture as unknown as Queue }, { ...ingestRequest(body), parsed: parseBatch(body) });
    // (Other kinds, such as consent-ledger entries, may travel with them.)
    expect(queued.filter((m) => m.kind === "event")).toHaveLength(3);
    expect(queued.filter((m) => m.kind === "failed")).toHaveLength(1);

    const failingDb = faulty(env.DB, "batch", unavailable("D1_ERROR"));
    const deliver = async (db: D1Database, attempts: number) => {
      const batch = createMessageBatch<PipelineMessage>("cohort-events", queued.map((body, i) => ({ id: `m-${i}`, timestamp: new Date(), attempts, body })));
      const ctx = createExecutionContext();
      await worker.queue(batch, { ...env, DB: db });
      return getQueueResult(batch, ctx);
    };
    for (const attempt of [1, 2]) {
      const result = await deliver(failingDb, attempt);
      expect(result.ackAll).toBe(false);
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toHaveLength(queued.length);
    }
    expect(await archivedCount("d1-1")).toBe(0);

    expect((await deliver(env.DB, 3)).ackAll).toBe(true);
    expect((await deliver(env.DB, 4)).ackAll).toBe(true);
    for (const id of ["d1-1", "d1-2", "d1-3"]) expect(await archivedCount(id)).toBe(1);
    const failed = await env.DB.prepare("SELECT COUNT(*) AS n FROM failed_events WHERE id = ?").bind((queued.find((m) => m.kind === "failed") as { id: string }).id).first<{ n: number }>();
    expect(failed!.n).toBe(1);
  });
});

describe("one message D1 refuses", () => {
  // Found by the fuzz suite: a failed-event message without a code (written when a request failed
  // with an unexpected error) violates NOT NULL, and the whole batch around it was retried until
  // the dead-letter queue, taking every good event of the batch with it.
  it("does not hold back the good messages delivered with it", async () => {
    const now = new Date().toISOString();
    const good = (messageId: string): PipelineMessage => ({
      kind: "event",
      workspaceId: site.workspaceId,
      siteId: site.id,
      profileKey: `${site.workspaceId}:user:u-poison`,
      event: { type: "track", event: "Fine", userId: "u-poison", messageId, timestamp: now, receivedAt: now, context: {} },
    });
    const poison = {
      kind: "failed",
      workspaceId: site.workspaceId,
      siteId: site.id,
      id: "poison-1",
      receivedAt: now,
      code: undefined,
      message: "boom",
      path: null,
      batchIndex: null,
      messageId: null,
      payload: "{}",
    } as unknown as PipelineMessage;
    const messages = [good("poison-good-1"), poison, good("poison-good-2")];
    const batch = createMessageBatch<PipelineMessage>("cohort-events", messages.map((body, i) => ({ id: `p-${i}`, timestamp: new Date(), attempts: 1, body })));
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    await getQueueResult(batch, ctx);
    expect(await archivedCount("poison-good-1")).toBe(1);
    expect(await archivedCount("poison-good-2")).toBe(1);
  });
});

describe("a queue that refuses a send", () => {
  it("makes ingest throw; the sender's retry is archived once and counted once", async () => {
    const event = { userId: "u-queue", messageId: "q-1", event: "Order Completed" };
    const down = { PROFILES: env.PROFILES, EVENTS: faulty(env.EVENTS, "sendBatch", unavailable("queue")) };
    await expect(ingest(down, ingestRequest(event))).rejects.toThrow("queue: unavailable");

    // The profile was written before the queue failed; the retry must not count it again.
    const result = await ingest(env, ingestRequest(event));
    expect(result.accepted).toBe(1);
    expect(await counters("u-queue")).toMatchObject({ total: 1, "event:Order Completed": 1 });
    await eventually(() => archivedCount("q-1"), (n) => n >= 1);
    // Everything queued so far has been consumed: one row is the final count.
    await drainQueue();
    expect(await archivedCount("q-1")).toBe(1);
  });

  it("answers 500 with the error envelope over HTTP, so the client retries; the retry lands once", async () => {
    const event = { userId: "u-queue-http", messageId: "qh-1", event: "Signed Up" };
    const request = () =>
      new Request(new URL("/v1/track", BASE), {
        method: "POST",
        headers: { Authorization: `Basic ${btoa(`${site.secretKey}:`)}`, "Content-Type": "application/json" },
        body: JSON.stringify(event),
      });
    const down = { ...env, EVENTS: faulty(env.EVENTS, "sendBatch", unavailable("queue")) };
    const failed = await worker.fetch(request(), down, createExecutionContext());
    expect(failed.status).toBe(500);
    expect(await failed.json()).toMatchObject({ error: { code: "internal_error", message: expect.any(String) } });

    const retried = await serverPost(site, "/v1/track", event);
    expect(retried.status).toBe(200);
    expect(await counters("u-queue-http")).toMatchObject({ total: 1 });
    await eventually(() => archivedCount("qh-1"), (n) => n >= 1);
    // Everything queued so far has been consumed: one row is the final count.
    await drainQueue();
    expect(await archivedCount("qh-1")).toBe(1);
  });
});

describe("a Durable Object evicted mid-stream", () => {
  it("keeps counters, traits, identities and its dedupe memory across evictions", async () => {
    const user = "u-evicted";
    const stub = profileStub(env.PROFILES, `${site.workspaceId}:user:${user}`);
    await serverPost(site, "/v1/identify", { userId: user, anonymousId: "a-evicted", messageId: "ev-id", traits: { plan: "pro" } });
    for (let round = 0; round < 8; round++) {
      // Five parallel events, one of them a repeat of the previous round's, then an eviction.
      const ids = [0, 1, 2, 3].map((i) => `ev-${round}-${i}`);
      if (round > 0) ids.push(`ev-${round - 1}-0`);
      const responses = await Promise.all(ids.map((messageId) => serverPost(site, "/v1/track", { userId: user, messageId, event: "Tick" })));
      expect(responses.every((r) => r.status === 200)).toBe(true);
      await evictDurableObject(stub);
    }
    const profile = await (await lookup(`userId=${user}`)).json<{ counters: Record<string, number>; traits: Record<string, unknown>; identities: unknown[] }>();
    expect(profile.counters).toEqual({ total: 33, "type:identify": 1, "type:track": 32, "event:Tick": 32 });
    expect(profile.traits).toEqual({ plan: "pro" });
    expect(profile.identities).toEqual(expect.arrayContaining([{ kind: "anonymousId", value: "a-evicted" }]));
    const seen = await runInDurableObject(stub, (_instance, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM seen").one().n);
    expect(seen).toBe(33);
  });
});

describe("a profile write that fails inside its transaction", () => {
  // Two views enter the segment; a view whose write was rolled back and then retried is one view.
  const twoViews = { event: "Product Viewed", within: "7d", count: { op: "gte", value: 2 } };

  /** Makes the object's next write of stored events throw (after the rules' list took them). */
  const failNextStore = (userId: string) =>
    runInDurableObject(profileStub(env.PROFILES, `ws_rollback:user:${userId}`), (instance) => {
      const data = (instance as unknown as { data: { store: (...args: unknown[]) => unknown } }).data;
      const store = data.store.bind(data);
      data.store = () => {
        data.store = store;
        throw new Error("SQLITE_FULL: injected");
      };
    });

  it.each([
    ["a new profile", false],
    ["a returning profile", true],
  ])("%s: the retried event counts once, in counters and in segment rules", async (_label, returning) => {
    const faultSite = await createSite({}, "ws_rollback");
    const created = await adminCall("/admin/api/segments", { method: "POST", workspace: "ws_rollback", body: JSON.stringify({ name: "Two views", rule: twoViews }) });
    expect(created.status).toBe(201);
    const userId = `u-rollback-${returning ? "returning" : "new"}`;
    if (returning) expect((await serverPost(faultSite, "/v1/track", { userId, messageId: `${userId}-0`, event: "Signed Up" })).status).toBe(200);
    await failNextStore(userId);
    const view = { userId, messageId: `${userId}-1`, event: "Product Viewed" };
    expect((await serverPost(faultSite, "/v1/track", view)).status).toBe(500);
    expect((await serverPost(faultSite, "/v1/track", view)).status).toBe(200);
    const profile = await (await lookup(`userId=${userId}`, "ws_rollback")).json<{ counters: Record<string, number>; segments: string[] }>();
    expect(profile.counters["event:Product Viewed"]).toBe(1);
    expect(profile.segments).toEqual([]);
  });
});
