// An exposure is recorded only for content that was served: the edge route decides without
// recording (its page may still go out unpersonalised after 50 ms) and records what it served.
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { profileStub, type ProfileKey } from "../../../worker/identity/keys";
import type { ProfileDecision } from "../../../worker/profile/store";
import { adminCall, createSite, drainQueue, serverPost } from "../helpers";

it("decides without recording, then records the served decision's first exposure once", async () => {
  const site = await createSite({}, "ws_served");
  const created = await adminCall("/admin/api/experiences", {
    method: "POST",
    workspace: "ws_served",
    body: JSON.stringify({ name: "Hero", slot: "hero", status: "live", variants: [{ id: "a", weight: 1, content: { text: "A" } }] }),
  });
  const experience = await created.json<{ id: string; slot: string; name: string }>();
  await serverPost(site, "/v1/track", { userId: "u-served", event: "Seen" });
  const key: ProfileKey = "ws_served:user:u-served";
  const stub = profileStub(env.PROFILES, key);
  const experiences = [{ ...(await (await adminCall(`/admin/api/experiences/${experience.id}`, { workspace: "ws_served" })).json<Record<string, unknown>>()), id: experience.id }];
  const request = { experiences, slots: ["hero"], context: {}, now: Date.now(), requestKey: "r", siteId: site.id, record: false } as never;

  const decided = (await stub.decide(request)) as unknown as ProfileDecision;
  expect(decided.decisions.hero).toMatchObject({ experience: experience.id, variant: "a" });
  expect(decided.exposures).toEqual([expect.objectContaining({ experienceId: experience.id, first: true })]);
  await drainQueue();
  const exposures = () => env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE user_id = 'u-served' AND name = 'Experiment Viewed'").first<{ n: number }>();
  expect((await exposures())?.n).toBe(0);
  // Nothing was kept: deciding again still finds a first exposure.
  expect(((await stub.decide(request)) as unknown as ProfileDecision).exposures[0]?.first).toBe(true);

  const served = { siteId: site.id, now: Date.now(), assignments: decided.assignments, exposures: decided.exposures, names: { [experience.id]: "Hero" } };
  await stub.recordExposures(served);
  await stub.recordExposures(served);
  await drainQueue();
  expect((await exposures())?.n).toBe(1);
  expect(((await stub.decide(request)) as unknown as ProfileDecision).exposures[0]?.first).toBe(false);
});
