// An alarm that throws is retried, and loses nothing: a window-edge exit whose queue send failed
// reaches the memberships index on the retry.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { profileStub } from "../../../worker/identity/keys";
import type { ProfileStore } from "../../../worker/profile/store";
import { adminCall, createSite, eventually, serverPost } from "../helpers";

const DAY = 86_400_000;

it("retries a throwing alarm and delivers the segment exit it found", async () => {
  const site = await createSite({}, "ws_alarm_retry");
  const res = await adminCall("/admin/api/segments", {
    method: "POST",
    workspace: "ws_alarm_retry",
    body: JSON.stringify({ name: "Recent buyers", rule: { event: "Order Completed", within: "7d" } }),
  });
  const segment = await res.json<{ id: string }>();
  const edge = Date.now() + 5000;
  await serverPost(site, "/v1/track", { userId: "u-alarm", event: "Order Completed", timestamp: new Date(edge - 7 * DAY).toISOString() });
  const member = () =>
    env.DB.prepare("SELECT member FROM memberships WHERE segment_id = ? AND profile_key = 'ws_alarm_retry:user:u-alarm'").bind(segment.id).first<{ member: number }>();
  await eventually(member, (row) => row?.member === 1);

  // The queue refuses the alarm's first send.
  const stub = profileStub(env.PROFILES, "ws_alarm_retry:user:u-alarm");
  await runInDurableObject(stub, (instance: ProfileStore) => {
    const queue = (instance as unknown as { env: Env }).env.EVENTS;
    const send = queue.sendBatch.bind(queue);
    const state = instance as unknown as { refusals: number };
    state.refusals = 1;
    queue.sendBatch = async (...args: Parameters<Queue["sendBatch"]>) => {
      if (state.refusals > 0) {
        state.refusals--;
        throw new Error("queue unavailable");
      }
      return send(...args);
    };
  });
  await new Promise((r) => setTimeout(r, edge - Date.now() + 300));
  // The runtime retries a throwing alarm (with a backoff); here the retries are run at once.
  for (let attempt = 0; attempt < 3; attempt++) await runDurableObjectAlarm(stub).catch(() => undefined);
  const after = await runInDurableObject(stub, (instance, state) => ({
    refusals: (instance as unknown as { refusals: number }).refusals,
    outbox: state.storage.sql.exec("SELECT value FROM meta WHERE name = 'outbox'").toArray().length,
  }));
  expect(after).toEqual({ refusals: 0, outbox: 0 });
  await eventually(member, (row) => row?.member === 0);
}, 30_000);
