// Segment definitions reach a profile by version: the bundle travels once per profile and change,
// and a profile asked with another version applies nothing until it has the bundle.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { normalise } from "../../../worker/collect/normalise";
import { requestSignals } from "../../../worker/consent/request";
import { sitePolicy } from "../../../worker/flows/ingest";
import { profileStub, type ProfileKey } from "../../../worker/identity/keys";
import { liveDefinitions } from "../../../worker/store/definitions";
import { findSiteByKey } from "../../../worker/store/sites";
import { adminCall, createSite, lookup, serverPost } from "../helpers";

const held = (key: ProfileKey) =>
  runInDurableObject(profileStub(env.PROFILES, key), (_i, state) => {
    const row = (name: string) => state.storage.sql.exec<{ value: string }>("SELECT value FROM meta WHERE name = ?", name).toArray()[0]?.value;
    return { version: row("definitions_version"), segments: JSON.parse(row("segments") ?? "null") as { id: string }[] | null };
  });

describe("definitions by version", () => {
  it("keeps the bundle with its version, applies nothing for an unknown version, and evaluates the held bundle for a known one", async () => {
    const testSite = await createSite({}, "ws_defs");
    const created = await adminCall("/admin/api/segments", { method: "POST", workspace: "ws_defs", body: JSON.stringify({ name: "Buyers", rule: { event: "Bought" } }) });
    const segment = await created.json<{ id: string }>();
    const key: ProfileKey = "ws_defs:user:u-defs";

    // Through the collection API: the profile asks for the bundle once and keeps it.
    expect((await serverPost(testSite, "/v1/track", { userId: "u-defs", messageId: "d-1", event: "Seen" })).status).toBe(200);
    const live = await liveDefinitions(env.DB, "ws_defs");
    expect(live.segments.map((s) => s.id)).toEqual([segment.id]);
    expect(await held(key)).toEqual({ version: live.version, segments: live.segments });

    const site = (await findSiteByKey(env.DB, testSite.secretKey))!;
    const event = (messageId: string) => normalise({ type: "track", userId: "u-defs", messageId, event: "Bought" }, new Date());
    const request = (messageId: string, definitions: { version: string } | typeof live) => ({
      key,
      events: [event(messageId)],
      signals: requestSignals([], { source: "server" }),
      policy: sitePolicy(site),
      retentionDays: site.retentionDays,
      definitions,
      siteId: site.id,
    });
    const stub = profileStub(env.PROFILES, key);

    // Another version: nothing applied (the messageId is not used up), the bundle is asked for.
    const unknown = await stub.apply(request("d-2", { version: "0000000000000000" }));
    expect(unknown).toMatchObject({ needsDefinitions: true, applied: 0 });
    expect((await (await lookup("userId=u-defs", "ws_defs")).json<{ counters: Record<string, number> }>()).counters.total).toBe(1);

    // The held version: the event applies once and the held segment is evaluated (the profile enters it).
    const known = await stub.apply(request("d-2", { version: live.version }));
    expect(known).toMatchObject({ applied: 1, duplicates: 0, segments: [segment.id] });
    expect(known.needsDefinitions).toBeUndefined();
    expect((await stub.apply(request("d-2", { version: live.version }))).duplicates).toBe(1);

    // A changed bundle (the segment deleted) replaces the held one: the profile leaves the segment.
    const none = { version: "ffffffffffffffff", segments: [] };
    const changed = await stub.apply(request("d-3", none));
    expect(changed).toMatchObject({ applied: 1, segments: [] });
    expect(await held(key)).toEqual({ version: none.version, segments: [] });
  });
});
