// Segment definitions reach a profile by version: the bundle travels once per profile and change (a
// small one with every call), and a profile asked with another version applies nothing until it
// has the bundle.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { normalise } from "../../../worker/collect/normalise";
import { requestSignals } from "../../../worker/consent/request";
import { sitePolicy } from "../../../worker/flows/ingest";
import { profileStub, type ProfileKey } from "../../../worker/identity/keys";
import { INLINE_DEFINITIONS_BYTES } from "../../../worker/profile/contract";
import { applyToProfile } from "../../../worker/profile/profiles";
import type { ApplyRequest } from "../../../worker/profile/store";
import { definitionsOf, liveDefinitions, type Definitions } from "../../../worker/store/definitions";
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

    // Through the collection API: the profile keeps the bundle (this small one travels with the call).
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

describe("a small bundle", () => {
  /** `env.PROFILES` whose stubs count their `apply` calls (the calls are the real object's). */
  function counting() {
    const calls: ("bundle" | "version")[] = [];
    const namespace = new Proxy(env.PROFILES, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (property !== "get") return typeof value === "function" ? value.bind(target) : value;
        return (id: DurableObjectId) => {
          const stub = target.get(id);
          return new Proxy(stub, {
            get(s, p) {
              if (p !== "apply") return Reflect.get(s, p);
              return (request: ApplyRequest) => {
                calls.push(request.definitions && "segments" in request.definitions ? "bundle" : "version");
                return s.apply(request);
              };
            },
          });
        };
      },
    });
    return { namespace, calls };
  }

  it("travels with the first call, so a new profile applies in one call; a large one is sent on request", async () => {
    const testSite = await createSite({}, "ws_defs_inline");
    await adminCall("/admin/api/segments", { method: "POST", workspace: "ws_defs_inline", body: JSON.stringify({ name: "Buyers", rule: { event: "Bought" } }) });
    const site = (await findSiteByKey(env.DB, testSite.secretKey))!;
    const live = await liveDefinitions(env.DB, "ws_defs_inline");
    expect(live.bytes).toBeLessThanOrEqual(INLINE_DEFINITIONS_BYTES);
    const request = (userId: string, definitions: Definitions) => ({
      key: `ws_defs_inline:user:${userId}` as ProfileKey,
      events: [normalise({ type: "track", userId, messageId: `${userId}-1`, event: "Bought" }, new Date())],
      signals: requestSignals([], { source: "server" }),
      policy: sitePolicy(site),
      retentionDays: site.retentionDays,
      definitions,
      siteId: site.id,
    });

    const small = counting();
    const applied = await applyToProfile(small.namespace, request("u-small", live));
    expect(small.calls).toEqual(["bundle"]);
    expect(applied).toMatchObject({ applied: 1, segments: live.segments.map((s) => s.id) });

    // The same bundle padded past the limit (a long segment name): the version first, then the bundle.
    const segments = live.segments.map((s) => ({ ...s, name: "x".repeat(INLINE_DEFINITIONS_BYTES) }));
    const large = counting();
    const big = await applyToProfile(large.namespace, request("u-large", await definitionsOf(segments, live.models)));
    expect(large.calls).toEqual(["version", "bundle"]);
    expect(big).toMatchObject({ applied: 1, segments: live.segments.map((s) => s.id) });
    // Held now: the next event is one call with the version only.
    large.calls.length = 0;
    await applyToProfile(large.namespace, { ...request("u-large", await definitionsOf(segments, live.models)), events: [normalise({ type: "track", userId: "u-large", messageId: "u-large-2", event: "Bought" }, new Date())] });
    expect(large.calls).toEqual(["version"]);
  });
});
