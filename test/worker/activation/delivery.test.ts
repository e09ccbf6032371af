// Events to webhooks: which destinations an event goes to (filters, consent), signed delivery
// verified with `standardwebhooks`, retries with queue delays and Retry-After, 410, failures kept
// and replayed, a dead destination beside a healthy one, and pausing a destination that keeps failing.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import { attemptDelivery, consumeDeliveries } from "../../../worker/activation/deliver";
import type { DeliveryMessage } from "../../../worker/activation/messages";
import { planDeliveries, STALLED_CHECK_MS } from "../../../worker/activation/plan";
import { PAUSE_AFTER_FAILURES, PAUSE_AFTER_MS } from "../../../worker/activation/schedule";
import { adminCall } from "../helpers";
import { ANALYTICS_ONLY, createDestination, deliveriesOf, deliveryEnv, deps, eventMessage, GRANTED, recordingFetch, recordingQueue, REFUSED } from "./helpers";

const sorted = (rows: unknown[][]) => [...rows].sort((a, b) => String(a[0]).localeCompare(String(b[0])));
const ok = () => new Response("thanks", { status: 200 });

async function planned(workspace: string, destination: Record<string, unknown>, ...events: ReturnType<typeof eventMessage>[]) {
  const created = await createDestination(workspace, { name: "Hook", type: "webhook", config: { url: "https://hooks.example/in" }, ...destination });
  const queue = recordingQueue();
  await planDeliveries(deliveryEnv(queue), events);
  return { destination: created, queue, rows: await deliveriesOf(created.id) };
}

describe("which events go where", () => {
  it("sends each event to the webhooks whose event filter and consent purposes it passes, and says why the others were filtered", async () => {
    const ws = "ws_route";
    const order = eventMessage(ws, { event: "Order Completed" }, ANALYTICS_ONLY);
    const page = eventMessage(ws, { type: "page", name: "Home", event: undefined }, ANALYTICS_ONLY);
    const refused = eventMessage(ws, { event: "Order Completed" }, REFUSED);
    const all = await createDestination(ws, { name: "All", type: "webhook", config: { url: "https://a.example/in" } });
    const byName = await createDestination(ws, { name: "Orders", type: "webhook", config: { url: "https://b.example/in" }, events: { names: ["Order Completed"] } });
    const byType = await createDestination(ws, { name: "Pages", type: "webhook", config: { url: "https://c.example/in" }, events: { types: ["page"] } });
    const ads = await createDestination(ws, { name: "Ads hook", type: "webhook", config: { url: "https://d.example/in" }, purposes: ["advertising"] });
    const queue = recordingQueue();
    await planDeliveries(deliveryEnv(queue), [order, page, refused]);

    const summary = async (id: string) => sorted((await deliveriesOf(id)).map((r) => [r.message_id, r.status, r.error]));
    expect(await summary(all.id)).toEqual(sorted([
      [order.event.messageId, "pending", null],
      [page.event.messageId, "pending", null],
      [refused.event.messageId, "filtered", "no analytics consent"],
    ]));
    expect(await summary(byName.id)).toEqual(sorted([[order.event.messageId, "pending", null], [refused.event.messageId, "filtered", "no analytics consent"]]));
    expect(await summary(byType.id)).toEqual([[page.event.messageId, "pending", null]]);
    expect(await summary(ads.id)).toEqual(sorted([
      [order.event.messageId, "filtered", "no advertising consent"],
      [page.event.messageId, "filtered", "no advertising consent"],
      [refused.event.messageId, "filtered", "no advertising consent"],
    ]));
    // One queue message per delivery that will be sent, none for the filtered ones.
    expect(queue.sent).toHaveLength(4);
    const res = await adminCall(`/admin/api/destinations/${ads.id}`, { workspace: ws, role: "viewer" });
    expect((await res.json<any>()).stats).toEqual({ delivered: 0, failed: 0, retrying: 0, pending: 0, filtered: 3 });
  });

  it("honours GPC and Consent Mode's ad_user_data for advertising purposes", async () => {
    const ws = "ws_gpc";
    const gpc = eventMessage(ws, {}, { ...GRANTED, sources: { ...GRANTED.sources, advertising: "gpc" } });
    const denied = eventMessage(ws, { context: { consent: { googleConsentMode: { ad_user_data: "denied", ad_personalization: "granted" } } } });
    const granted = eventMessage(ws, { context: { consent: { googleConsentMode: { ad_user_data: "granted" } } } });
    const { rows } = await planned(ws, { purposes: ["advertising"] }, gpc, denied, granted);
    expect(sorted(rows.map((r) => [r.message_id, r.status, r.error]))).toEqual(sorted([
      [gpc.event.messageId, "filtered", "Global Privacy Control"],
      [denied.event.messageId, "filtered", "Consent Mode ad_user_data denied"],
      [granted.event.messageId, "pending", null],
    ]));
  });

  it("plans an event again without a second delivery (the id is stable per event and destination)", async () => {
    const ws = "ws_again";
    const event = eventMessage(ws, {});
    const { destination } = await planned(ws, {}, event);
    await planDeliveries(deliveryEnv(recordingQueue()), [event]);
    expect(await deliveriesOf(destination.id)).toHaveLength(1);
  });
});

describe("delivery", () => {
  it("POSTs the stored event with Standard Webhooks headers that standardwebhooks verifies; a retry repeats the webhook-id", async () => {
    const ws = "ws_sign_dlv";
    const event = eventMessage(ws, { properties: { total: 42 } });
    const { destination, rows } = await planned(ws, {}, event);
    const { fetch, requests } = recordingFetch((_, n) => (n === 1 ? new Response("busy", { status: 503 }) : ok()));
    const now = Date.now();
    const first = await attemptDelivery(deliveryEnv(recordingQueue()), rows[0]!.id as string, deps(fetch, now));
    expect(first).toEqual({ resendInSeconds: 5 });
    expect((await deliveriesOf(destination.id))[0]).toMatchObject({ status: "retrying", attempts: 1, response_status: 503, response_body: "busy", next_attempt_at: now + 5000 });

    expect(await attemptDelivery(deliveryEnv(recordingQueue()), rows[0]!.id as string, deps(fetch, now + 5000))).toEqual({ done: true });
    expect((await deliveriesOf(destination.id))[0]).toMatchObject({ status: "delivered", attempts: 2, response_status: 200, payload: null });
    expect(requests).toHaveLength(2);
    for (const request of requests) {
      expect(request.method).toBe("POST");
      expect(request.url).toBe("https://hooks.example/in");
      expect(request.headers["content-type"]).toBe("application/json");
      expect(request.headers["webhook-id"]).toBe(rows[0]!.id);
      expect(new Webhook(destination.secret).verify(request.body, request.headers)).toMatchObject({ messageId: event.event.messageId, event: "Order Completed", properties: { total: 42 } });
    }
    // Delivered: a duplicate queue message sends nothing.
    expect(await attemptDelivery(deliveryEnv(recordingQueue()), rows[0]!.id as string, deps(fetch, now + 6000))).toEqual({ done: true });
    expect(requests).toHaveLength(2);
  });

  it("retries through the queue with delaySeconds: the schedule, Retry-After, and waits longer than 12 h chained", async () => {
    const ws = "ws_delay";
    const a = eventMessage(ws, {});
    const b = eventMessage(ws, {});
    const { destination, rows } = await planned(ws, {}, a, b);
    const { fetch } = recordingFetch((request, n) => (n === 1 ? new Response("", { status: 500 }) : new Response("", { status: 429, headers: { "Retry-After": "120" } })));
    const queue = recordingQueue();
    const now = Date.now();
    for (const row of rows) {
      const batch = createMessageBatch<DeliveryMessage>("cohort-deliveries", [{ id: `q-${row.id}`, timestamp: new Date(), attempts: 1, body: { kind: "delivery", id: row.id as string } }]);
      await consumeDeliveries(batch, deliveryEnv(queue), deps(fetch, now));
      expect((await getQueueResult(batch, createExecutionContext())).explicitAcks).toEqual([`q-${row.id}`]);
    }
    expect(queue.sent.map((s) => s.delaySeconds)).toEqual([5, 120]);

    // A wait past the queue's 12 h cap: the message comes back early and is sent on, nothing is fetched.
    await env.DB.prepare("UPDATE deliveries SET next_attempt_at = ? WHERE destination_id = ?").bind(now + 20 * 3_600_000, destination.id).run();
    const early = recordingQueue();
    const none = recordingFetch(ok);
    const batch = createMessageBatch<DeliveryMessage>("cohort-deliveries", [{ id: "q-early", timestamp: new Date(), attempts: 1, body: { kind: "delivery", id: rows[0]!.id as string } }]);
    await consumeDeliveries(batch, deliveryEnv(early), deps(none.fetch, now));
    expect(early.sent).toEqual([{ body: { kind: "delivery", id: rows[0]!.id }, delaySeconds: 43_200 }]);
    expect(none.requests).toHaveLength(0);
  });

  it("fails a 4xx at once, keeps it with the status and body head, lists it, and replays it with the same webhook-id", async () => {
    const ws = "ws_replay";
    const { destination, rows } = await planned(ws, {}, eventMessage(ws, {}));
    const now = Date.now();
    const refuse = recordingFetch(() => new Response(JSON.stringify({ error: "schema mismatch", padding: "x".repeat(5000) }), { status: 422 }));
    expect(await attemptDelivery(deliveryEnv(recordingQueue()), rows[0]!.id as string, deps(refuse.fetch, now))).toEqual({ done: true });

    const listed = await (await adminCall(`/admin/api/destinations/${destination.id}/deliveries?status=failed`, { workspace: ws, role: "viewer" })).json<any>();
    expect(listed.deliveries).toHaveLength(1);
    expect(listed.deliveries[0]).toMatchObject({ id: rows[0]!.id, status: "failed", attempts: 1, responseStatus: 422, error: "the endpoint answered 422" });
    expect(listed.deliveries[0].responseBody).toHaveLength(1024);
    expect(listed.deliveries[0].responseBody.startsWith('{"error":"schema mismatch"')).toBe(true);
    expect((await (await adminCall(`/admin/api/destinations/${destination.id}`, { workspace: ws })).json<any>()).stats).toMatchObject({ failed: 1, delivered: 0 });

    const replay = await adminCall(`/admin/api/destinations/${destination.id}/replay`, { method: "POST", workspace: ws, body: "{}" });
    expect(replay.status).toBe(202);
    expect(await replay.json<any>()).toEqual({ replayed: 1 });
    const accept = recordingFetch(ok);
    await attemptDelivery(deliveryEnv(recordingQueue()), rows[0]!.id as string, deps(accept.fetch, Date.now()));
    expect(accept.requests[0]!.headers["webhook-id"]).toBe(refuse.requests[0]!.headers["webhook-id"]);
    expect((await deliveriesOf(destination.id))[0]).toMatchObject({ status: "delivered", attempts: 1 });
  });

  it("disables the destination on 410 Gone and says why; what comes next is kept failed for a replay", async () => {
    const ws = "ws_gone";
    const { destination, rows } = await planned(ws, {}, eventMessage(ws, {}), eventMessage(ws, {}));
    const gone = recordingFetch(() => new Response("", { status: 410 }));
    await attemptDelivery(deliveryEnv(recordingQueue()), rows[0]!.id as string, deps(gone.fetch, Date.now()));
    const shown = await (await adminCall(`/admin/api/destinations/${destination.id}`, { workspace: ws })).json<any>();
    expect(shown).toMatchObject({ enabled: false, paused: true, pausedReason: "disabled: the endpoint answered 410 Gone" });
    await attemptDelivery(deliveryEnv(recordingQueue()), rows[1]!.id as string, deps(gone.fetch, Date.now()));
    expect(gone.requests).toHaveLength(1);
    const after = new Map((await deliveriesOf(destination.id)).map((r) => [r.id, r]));
    expect(after.get(rows[0]!.id)).toMatchObject({ status: "failed", response_status: 410 });
    expect(after.get(rows[1]!.id)).toMatchObject({ status: "failed", response_status: null });
    expect(after.get(rows[1]!.id)!.error).toMatch(/^the destination is paused: disabled: the endpoint answered 410 Gone/);
    const refused = await adminCall(`/admin/api/destinations/${destination.id}/replay`, { method: "POST", workspace: ws, body: "{}" });
    expect(refused.status).toBe(409);
  });

  it("a dead destination does not hold back a healthy one: the healthy delivery completes while the dead one still hangs", async () => {
    const ws = "ws_dead";
    const event = eventMessage(ws, {});
    const dead = await createDestination(ws, { name: "Dead", type: "webhook", config: { url: "https://dead.example/in" } });
    const healthy = await createDestination(ws, { name: "Healthy", type: "webhook", config: { url: "https://healthy.example/in" } });
    await planDeliveries(deliveryEnv(recordingQueue()), [event]);
    let release!: () => void;
    const hanging = new Promise<void>((resolve) => (release = resolve));
    const { fetch } = recordingFetch(async (request) => {
      if (request.url.startsWith("https://dead.example")) {
        await hanging;
        throw new TypeError("connection reset");
      }
      return ok();
    });
    const [deadRow] = await deliveriesOf(dead.id);
    const [healthyRow] = await deliveriesOf(healthy.id);
    const batch = createMessageBatch<DeliveryMessage>("cohort-deliveries", [
      { id: "q-dead", timestamp: new Date(), attempts: 1, body: { kind: "delivery", id: deadRow!.id as string } },
      { id: "q-healthy", timestamp: new Date(), attempts: 1, body: { kind: "delivery", id: healthyRow!.id as string } },
    ]);
    const queue = recordingQueue();
    const running = consumeDeliveries(batch, deliveryEnv(queue), deps(fetch, Date.now()));
    await vi.waitFor(async () => expect((await deliveriesOf(healthy.id))[0]!.status).toBe("delivered"), { timeout: 5000, interval: 20 });
    expect((await deliveriesOf(dead.id))[0]!.status).toBe("sending");
    release();
    await running;
    expect((await deliveriesOf(dead.id))[0]).toMatchObject({ status: "retrying", error: "network error: connection reset" });
    expect(queue.sent).toEqual([{ body: { kind: "delivery", id: deadRow!.id }, delaySeconds: 5 }]);
  });

  it("pauses a destination that keeps failing, with the reason, and PATCH enabled:true resumes it", async () => {
    const ws = "ws_pause";
    const events = Array.from({ length: PAUSE_AFTER_FAILURES + 1 }, () => eventMessage(ws, {}));
    const { destination, rows } = await planned(ws, {}, ...events);
    const failing = recordingFetch(() => new Response("down", { status: 500 }));
    const start = Date.now();
    const step = PAUSE_AFTER_MS / (PAUSE_AFTER_FAILURES - 1);
    for (let i = 0; i < PAUSE_AFTER_FAILURES; i++) {
      const shown = await (await adminCall(`/admin/api/destinations/${destination.id}`, { workspace: ws })).json<any>();
      expect(shown.enabled).toBe(true);
      await attemptDelivery(deliveryEnv(recordingQueue()), rows[i]!.id as string, deps(failing.fetch, start + i * step));
    }
    const paused = await (await adminCall(`/admin/api/destinations/${destination.id}`, { workspace: ws })).json<any>();
    expect(paused).toMatchObject({ enabled: false, paused: true });
    expect(paused.pausedReason).toMatch(new RegExp(`^paused after ${PAUSE_AFTER_FAILURES} failed attempts in a row since .*; last: the endpoint answered 500$`));

    const resumed = await adminCall(`/admin/api/destinations/${destination.id}`, { method: "PATCH", workspace: ws, body: JSON.stringify({ enabled: true }) });
    expect(await resumed.json<any>()).toMatchObject({ enabled: true, paused: false, pausedReason: null });
    const healthy = recordingFetch(ok);
    await attemptDelivery(deliveryEnv(recordingQueue()), rows[PAUSE_AFTER_FAILURES]!.id as string, deps(healthy.fetch, start + PAUSE_AFTER_MS + 1000));
    expect(healthy.requests).toHaveLength(1);
  });
});

describe("a delivery whose queue message was lost", () => {
  it("gets a new message from a later batch's plan once it is STALLED_AFTER_MS late; the consumer looks at most once a minute", async () => {
    const ws = "ws_stalled";
    const { rows } = await planned(ws, {}, eventMessage(ws, {}), eventMessage(ws, {}));
    const [lost, other] = rows.map((r) => r.id as string);
    // Far ahead of every plan the other tests made (their clock), so this test's checks are its own.
    const at = Date.now() + 30 * 86_400_000;
    const resent = async (now: number) => {
      const queue = recordingQueue();
      await planDeliveries(deliveryEnv(queue), [], now);
      return queue.sent.map((s) => (s.body as DeliveryMessage & { id: string }).id).filter((id) => id === lost || id === other);
    };
    expect((await resent(at)).sort()).toEqual([lost, other].sort());
    // The second one's message is lost too, right after: a batch within the minute does not look again…
    await env.DB.prepare("UPDATE deliveries SET next_attempt_at = 0 WHERE id = ?").bind(other).run();
    expect(await resent(at + 30_000)).toEqual([]);
    // …the first batch after it does.
    expect(await resent(at + STALLED_CHECK_MS)).toEqual([other]);
  });
});
