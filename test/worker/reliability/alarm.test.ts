// An alarm whose send the queue refuses loses nothing: the window-edge exit it found stays in the
// profile's outbox, the alarm is set again (with a backoff), and the exit reaches the memberships
// index on that run. Time is set, not waited for: the clock is frozen
// while the profile is built, then moved past the window edge before the alarm runs.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, expect, it, vi } from "vitest";
import { profileStub } from "../../../worker/identity/keys";
import type { ProfileStore } from "../../../worker/profile/store";
import { adminCall, createSite, eventually, serverPost } from "../helpers";

const DAY = 86_400_000;

afterEach(() => vi.useRealTimers());

it("keeps a refused window-edge exit in the outbox and delivers it on the next alarm", async () => {
  const now = Date.now();
  vi.setSystemTime(now);
  const site = await createSite({}, "ws_alarm_retry");
  const res = await adminCall("/admin/api/segments", {
    method: "POST",
    workspace: "ws_alarm_retry",
    body: JSON.stringify({ name: "Recent buyers", rule: { event: "Order Completed", within: "7d" } }),
  });
  const segment = await res.json<{ id: string }>();
  // The order turns seven days old an hour after `now`: that is the window edge.
  const edge = now + 3_600_000;
  await serverPost(site, "/v1/track", { userId: "u-alarm", event: "Order Completed", timestamp: new Date(edge - 7 * DAY).toISOString() });
  const member = () =>
    env.DB.prepare("SELECT member FROM memberships WHERE segment_id = ? AND profile_key = 'ws_alarm_retry:user:u-alarm'").bind(segment.id).first<{ member: number }>();
  await eventually(member, (row) => row?.member === 1);

  // The queue refuses the alarm's first send.
  const stub = profileStub(env.PROFILES, "ws_alarm_retry:user:u-alarm");
  expect(await runInDurableObject(stub, (_instance, state) => state.storage.getAlarm())).toBe(edge);
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
  vi.setSystemTime(edge);
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  const pending = await runInDurableObject(stub, async (_instance, state) => ({
    owed: state.storage.sql.exec("SELECT COUNT(*) AS n FROM outbox").one().n,
    // The retry: 5 s after the refusal.
    alarm: await state.storage.getAlarm(),
  }));
  expect(pending.owed).toBeGreaterThan(0);
  expect(pending.alarm).toBe(edge + 5_000);
  expect(await member()).toMatchObject({ member: 1 });
  vi.setSystemTime(edge + 5_000);
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  const after = await runInDurableObject(stub, async (instance, state) => ({
    refusals: (instance as unknown as { refusals: number }).refusals,
    outbox: state.storage.sql.exec("SELECT COUNT(*) AS n FROM outbox").one().n,
    // What is left is the profile's expiry (395 days after its last event), not the edge again.
    alarm: await state.storage.getAlarm(),
  }));
  expect(after).toEqual({ refusals: 0, outbox: 0, alarm: edge - 7 * DAY + 395 * DAY });
  await eventually(member, (row) => row?.member === 0);
  // The expiry alarm, run early, finds the profile still within its retention and keeps it.
  expect(await runDurableObjectAlarm(stub)).toBe(true);
  expect((await adminCall("/admin/api/profiles/lookup?userId=u-alarm", { workspace: "ws_alarm_retry" })).status).toBe(200);
}, 30_000);
