// Backfill pages: their segment events are archived under a real site, a page records its
// progress before it queues the next one, and no retry or redelivery forks the chain.
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../../worker/index";
import { backfillPage } from "../../../worker/pipeline/backfill";
import type { PipelineMessage } from "../../../worker/pipeline/messages";
import { adminCall, createSite, eventually, serverPost } from "../helpers";

beforeEach(() => void vi.spyOn(console, "error").mockImplementation(() => {}));
afterEach(() => vi.restoreAllMocks());

type Backfill = Extract<PipelineMessage, { kind: "backfill" }>;

/** A queue that records what it is sent, and refuses the sends `fail` says. */
function recordingQueue(fail: (batch: PipelineMessage[], n: number) => boolean = () => false) {
  const sent: PipelineMessage[] = [];
  let n = 0;
  const queue = {
    sendBatch: async (batch: MessageSendRequest<PipelineMessage>[]) => {
      const bodies = batch.map((m) => m.body);
      if (fail(bodies, n++)) throw new Error("queue: unavailable");
      sent.push(...bodies);
    },
    send: async (body: PipelineMessage) => void sent.push(body),
  };
  return { queue: queue as unknown as Queue, sent, pages: () => sent.filter((m): m is Backfill => m.kind === "backfill") };
}

/** A workspace with `profiles` users, half on the "pro" plan, and a segment over them (not yet backfilled). */
async function setUp(ws: string, profiles: number) {
  const site = await createSite({}, ws);
  const batch = Array.from({ length: profiles }, (_, i) => ({ type: "identify", userId: `bf-${String(i).padStart(3, "0")}`, traits: { plan: i % 2 ? "pro" : "free" } }));
  expect((await serverPost(site, "/v1/batch", { batch })).status).toBe(200);
  await eventually(() => env.DB.prepare("SELECT COUNT(*) AS n FROM profiles WHERE workspace_id = ?").bind(ws).first<{ n: number }>(), (r) => r!.n === profiles);
  // The segment row, written directly so no backfill of its own starts.
  const id = `seg-${ws}`;
  await env.DB.prepare("INSERT INTO segments (id, workspace_id, name, rule, version, backfill_total) VALUES (?, ?, 'Pro', ?, 1, ?)")
    .bind(id, ws, JSON.stringify({ version: 1, rule: { trait: "plan", op: "eq", value: "pro" } }), profiles)
    .run();
  const first: Backfill = { kind: "backfill", workspaceId: ws, segmentId: id, version: 1, cursor: null };
  return { site, id, first };
}

const progress = async (id: string) => (await env.DB.prepare("SELECT backfill_done AS done FROM segments WHERE id = ?").bind(id).first<{ done: number }>())!.done;

describe("backfill pages", () => {
  it("archive their segment events under the profile's site, never under an empty site", async () => {
    const { site, first } = await setUp("ws_bf_site", 4);
    const q = recordingQueue();
    await backfillPage({ ...env, EVENTS: q.queue }, first);
    const entered = q.sent.filter((m): m is Extract<PipelineMessage, { kind: "event" }> => m.kind === "event");
    expect(entered).toHaveLength(2);
    expect(entered.map((m) => m.siteId)).toEqual([site.id, site.id]);
  });

  it("a retry after the next page could not be queued continues one chain, and a redelivery adds none", async () => {
    const { id, first } = await setUp("ws_bf_chain", 120);
    // The next page's hand-over fails once (the queue refuses it), after the page recorded itself.
    let refused = false;
    const q = recordingQueue((batch) => {
      if (!refused && batch.some((m) => m.kind === "backfill")) return (refused = true);
      return false;
    });
    const e = { ...env, EVENTS: q.queue };
    await expect(backfillPage(e, first)).rejects.toThrow("queue: unavailable");
    expect(await progress(id)).toBe(50);
    expect(q.pages()).toHaveLength(0);
    // The queue retries the page: it does not evaluate or count again, it hands the next page over.
    await backfillPage(e, first);
    expect(await progress(id)).toBe(50);
    expect(q.pages()).toHaveLength(1);
    // A redelivery of the same first page (at-least-once) changes nothing.
    await backfillPage(e, first);
    expect(q.pages()).toHaveLength(1);

    // Run the chain; every page delivered twice.
    for (let i = 0; i < 10 && q.pages().length > 0; i++) {
      const pages = q.pages();
      const page = pages.at(-1)!;
      const before = pages.length;
      await backfillPage(e, page);
      await backfillPage(e, page);
      if (q.pages().length === before) break;
      expect(q.pages().length).toBe(before + 1);
    }
    expect(await progress(id)).toBe(120);
    // Pages: first → cursor after 50 → after 100 (the last, 20 profiles): two hand-overs in all.
    expect(q.pages().map((m) => m.cursor)).toEqual(["ws_bf_chain:user:bf-049", "ws_bf_chain:user:bf-099"]);
    const entries = q.sent.filter((m) => m.kind === "membership");
    expect(entries).toHaveLength(60);
    expect((await adminCall(`/admin/api/segments/${id}`, { workspace: "ws_bf_chain" }).then((r) => r.json<{ backfill: { done: number } }>())).backfill.done).toBe(120);
  });
});

describe("retention", () => {
  it("purges events archived without a site once the workspace's longest retention has passed", async () => {
    // The workspace's only site keeps events 10 days.
    await createSite({ retentionDays: 10 }, "ws_orphans");
    const now = Date.now();
    const old = now - 11 * 86_400_000;
    const insert = (id: string, at: number) =>
      env.DB.prepare("INSERT INTO events (workspace_id, message_id, site_id, type, timestamp, received_at, payload) VALUES ('ws_orphans', ?, '', 'track', ?, ?, '{}')").bind(id, at, at).run();
    await insert("orphan-old", old);
    await insert("orphan-new", now);
    await worker.scheduled(createScheduledController({ scheduledTime: now }), env);
    const left = await env.DB.prepare("SELECT message_id AS id FROM events WHERE workspace_id = 'ws_orphans'").all<{ id: string }>();
    expect(left.results.map((r) => r.id)).toEqual(["orphan-new"]);
  });
});
