// The ProfileStore's storage: a profile written by the code before migrations existed opens and
// works at the current schema; what a change owes the pipeline survives a refused send; the
// bounds hold.
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { profileStub, type ProfileKey } from "../../../worker/identity/keys";
import { RECENT_EVENTS } from "../../../worker/profile/contract";
import { MAX_COUNTERS, MAX_IDENTITIES, MAX_TRAITS, OTHER_EVENTS } from "../../../worker/profile/limits";
import type { ProfileStore } from "../../../worker/profile/store";
import { adminCall, createSite, eventually, lookup, serverPost } from "../helpers";

/** The tables as the ProfileStore created them before its storage was migrated (commit c75f8d3). */
const LEGACY_SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS identities (kind TEXT NOT NULL, value TEXT NOT NULL, first_seen INTEGER NOT NULL, PRIMARY KEY (kind, value));
  CREATE TABLE IF NOT EXISTS traits (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS seen (message_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS seen_at ON seen (at);
  CREATE TABLE IF NOT EXISTS events (message_id TEXT PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS events_at ON events (at);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, count INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS campaigns (message_id TEXT PRIMARY KEY, at INTEGER NOT NULL, body TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS campaigns_at ON campaigns (at);
  CREATE TABLE IF NOT EXISTS merged_from (key TEXT PRIMARY KEY, at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS memberships (segment_id TEXT PRIMARY KEY, version INTEGER NOT NULL, since INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS assignments (experience_id TEXT PRIMARY KEY, variant TEXT NOT NULL, at INTEGER NOT NULL);
`;

const grant = { purposes: { necessary: true, analytics: true, personalization: true, advertising: false }, sources: {}, at: 1, policyVersion: "1" };

/** Replaces a profile's storage with what the old code would have written, then evicts the object. */
async function writeLegacyProfile(key: ProfileKey, pendingOutbox: unknown[], journalAt?: number) {
  const stub = profileStub(env.PROFILES, key);
  await runInDurableObject(stub, (_instance, state) => {
    for (const { name } of state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").toArray()) {
      state.storage.sql.exec(`DROP TABLE "${name}"`);
    }
    state.storage.sql.exec(LEGACY_SCHEMA);
    // A journal that records migration 0000 only (`journalAt`: its time).
    if (journalAt !== undefined) {
      state.storage.sql.exec('CREATE TABLE "__drizzle_migrations" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)');
      state.storage.sql.exec('INSERT INTO "__drizzle_migrations" ("hash", "created_at") VALUES (?, ?)', "", journalAt);
    }
    const at = Date.parse("2026-11-20T10:00:00Z");
    const meta: [string, string][] = [
      ["key", key],
      ["consent", JSON.stringify(grant)],
      ["retention_days", "395"],
      ["first_seen", String(at)],
      ["last_seen", String(at)],
      ["outbox", JSON.stringify(pendingOutbox)],
    ];
    for (const [name, value] of meta) state.storage.sql.exec("INSERT INTO meta (name, value) VALUES (?, ?)", name, value);
    state.storage.sql.exec("INSERT INTO traits (name, value, updated_at) VALUES ('plan', '\"pro\"', ?)", at);
    state.storage.sql.exec("INSERT INTO counters (name, count) VALUES ('total', 3), ('type:track', 3), ('event:Signed Up', 3)");
    state.storage.sql.exec("INSERT INTO identities (kind, value, first_seen) VALUES ('userId', ?, ?)", key.split(":")[2], at);
    state.storage.sql.exec("INSERT INTO seen (message_id, at) VALUES ('legacy-1', ?)", at);
    state.storage.sql.exec(
      "INSERT INTO events (message_id, at, body) VALUES ('legacy-1', ?, ?)",
      at,
      JSON.stringify({ messageId: "legacy-1", type: "track", event: "Signed Up", timestamp: "2026-11-20T10:00:00.000Z", properties: {} }),
    );
  });
  await evictDurableObject(stub);
  return stub;
}

describe("a profile created before storage migrations", () => {
  it("opens at the current schema with its data, takes new events, and sends what it still owed", async () => {
    const site = await createSite({}, "ws_legacy");
    const key: ProfileKey = "ws_legacy:user:u-legacy";
    const owed = { kind: "membership", workspaceId: "ws_legacy", segmentId: "seg_legacy", profileKey: key, member: true, at: Date.parse("2026-11-20T10:00:00Z") };
    await writeLegacyProfile(key, [owed]);

    const before = await lookup("userId=u-legacy", "ws_legacy");
    expect(before.status).toBe(200);
    const profile = await before.json<{ traits: Record<string, unknown>; counters: Record<string, number>; firstSeen: string }>();
    expect(profile.traits).toEqual({ plan: "pro" });
    expect(profile.counters).toMatchObject({ total: 3, "event:Signed Up": 3 });
    expect(profile.firstSeen).toBe("2026-11-20T10:00:00.000Z");

    // The replayed legacy event is still a duplicate; a new one counts.
    await serverPost(site, "/v1/batch", {
      batch: [
        { type: "track", messageId: "legacy-1", userId: "u-legacy", event: "Signed Up" },
        { type: "track", messageId: "new-1", userId: "u-legacy", event: "Signed Up" },
      ],
    });
    const after = await (await lookup("userId=u-legacy", "ws_legacy")).json<{ counters: Record<string, number> }>();
    expect(after.counters).toMatchObject({ total: 4, "event:Signed Up": 4 });

    // The old alarm's pending message moved to the outbox and reached D1.
    await eventually(
      () => env.DB.prepare("SELECT member FROM memberships WHERE segment_id = 'seg_legacy' AND profile_key = ?").bind(key).first<{ member: number }>(),
      (row) => row?.member === 1,
    );
    const journal = await runInDurableObject(profileStub(env.PROFILES, key), (_i, state) => ({
      migrations: state.storage.sql.exec("SELECT COUNT(*) AS n FROM __drizzle_migrations").one().n,
      legacyOutbox: state.storage.sql.exec("SELECT COUNT(*) AS n FROM meta WHERE name = 'outbox'").one().n,
    }));
    expect(journal).toEqual({ migrations: 2, legacyOutbox: 0 });
  });

  it("migrates a profile whose journal stops at an earlier migration, and keeps its meta", async () => {
    const site = await createSite({}, "ws_behind");
    const key: ProfileKey = "ws_behind:user:u-behind";
    const { default: migrations } = await import("../../../worker/profile/migrations/migrations.js");
    const stub = await writeLegacyProfile(key, [], migrations.journal.entries[0]!.when);

    expect((await serverPost(site, "/v1/track", { userId: "u-behind", messageId: "b-1", event: "Signed Up" })).status).toBe(200);
    const profile = await (await lookup("userId=u-behind", "ws_behind")).json<{ traits: Record<string, unknown>; counters: Record<string, number>; firstSeen: string }>();
    expect(profile).toMatchObject({ traits: { plan: "pro" }, counters: { total: 4, "event:Signed Up": 4 }, firstSeen: "2026-11-20T10:00:00.000Z" });
    const tables = await runInDurableObject(stub, (_i, state) => ({
      outbox: state.storage.sql.exec("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'outbox'").one().n,
      migrations: state.storage.sql.exec("SELECT COUNT(*) AS n FROM __drizzle_migrations").one().n,
    }));
    expect(tables).toEqual({ outbox: 1, migrations: 2 });
  });
});

/** Makes the object's queue refuse its next `n` sends. */
async function refuseSends(key: ProfileKey, n: number) {
  await runInDurableObject(profileStub(env.PROFILES, key), (instance: ProfileStore) => {
    const queue = (instance as unknown as { env: Env }).env.EVENTS;
    const send = queue.sendBatch.bind(queue);
    let refusals = n;
    queue.sendBatch = async (...args: Parameters<Queue["sendBatch"]>) => {
      if (refusals-- > 0) throw new Error("queue unavailable");
      return send(...args);
    };
  });
}

const owedCount = (key: ProfileKey) => runInDurableObject(profileStub(env.PROFILES, key), (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM outbox").one().n as number);

describe("the outbox", () => {
  it("keeps a segment entry whose send the queue refused, and the alarm delivers it", async () => {
    const site = await createSite({}, "ws_outbox");
    const created = await adminCall("/admin/api/segments", {
      method: "POST",
      workspace: "ws_outbox",
      body: JSON.stringify({ name: "Buyers", rule: { event: "Order Completed" } }),
    });
    const segment = await created.json<{ id: string }>();
    const key: ProfileKey = "ws_outbox:user:u-out";
    await serverPost(site, "/v1/track", { userId: "u-out", event: "Page Seen" });
    await refuseSends(key, 1);

    const res = await serverPost(site, "/v1/track", { userId: "u-out", event: "Order Completed" });
    expect(res.status).toBe(200);
    const member = () => env.DB.prepare("SELECT member FROM memberships WHERE segment_id = ? AND profile_key = ?").bind(segment.id, key).first<{ member: number }>();
    // The profile is in the segment; what it owes is kept until the queue takes it.
    expect((await (await lookup("userId=u-out", "ws_outbox")).json<{ segments: string[] }>()).segments).toEqual([segment.id]);
    await eventually(() => owedCount(key), (n) => n > 0);
    expect(await member()).toBeNull();

    expect(await runDurableObjectAlarm(profileStub(env.PROFILES, key))).toBe(true);
    expect(await owedCount(key)).toBe(0);
    await eventually(member, (row) => row?.member === 1);
    const size = await (await adminCall(`/admin/api/segments/${segment.id}`, { workspace: "ws_outbox", role: "viewer" })).json<{ size: number }>();
    expect(size.size).toBe(1);
  });

  it("writes the ledger entry of a consent change once, even when the first send is refused", async () => {
    const site = await createSite({}, "ws_outbox_ledger");
    const key: ProfileKey = "ws_outbox_ledger:user:u-ledger";
    await serverPost(site, "/v1/track", { userId: "u-ledger", event: "Seen" });
    await refuseSends(key, 1);
    const withdraw = { userId: "u-ledger", event: "Seen", context: { consent: { categoryPreferences: { Advertising: false, Analytics: true, Personalization: true } } } };
    await serverPost(site, "/v1/track", withdraw);
    await eventually(() => owedCount(key), (n) => n > 0);
    expect(await runDurableObjectAlarm(profileStub(env.PROFILES, key))).toBe(true);
    const rows = await eventually(
      () => env.DB.prepare("SELECT COUNT(*) AS n FROM consent_ledger WHERE site_id = ?").bind(site.id).first<{ n: number }>(),
      (row) => (row?.n ?? 0) >= 1,
    );
    expect(rows?.n).toBe(1);
  });
});

describe("the profile's bounds", () => {
  it("keeps at most MAX_IDENTITIES identities, the first bindings first", async () => {
    const site = await createSite({}, "ws_bounds_ids");
    const batch = Array.from({ length: MAX_IDENTITIES + 20 }, (_, i) => ({ type: "group", userId: "u-ids", groupId: `g${i}` }));
    expect((await serverPost(site, "/v1/batch", { batch })).status).toBe(200);
    const profile = await (await lookup("userId=u-ids", "ws_bounds_ids")).json<{ identities: { kind: string; value: string }[] }>();
    expect(profile.identities).toHaveLength(MAX_IDENTITIES);
    expect(profile.identities).toContainEqual({ kind: "userId", value: "u-ids" });
    expect(profile.identities).toContainEqual({ kind: "groupId", value: "g0" });
    expect(profile.identities).not.toContainEqual({ kind: "groupId", value: `g${MAX_IDENTITIES + 19}` });
  });

  it("keeps at most MAX_TRAITS trait names, still updating held ones", async () => {
    const site = await createSite({}, "ws_bounds");
    const traits = Object.fromEntries(Array.from({ length: MAX_TRAITS + 20 }, (_, i) => [`t${String(i).padStart(4, "0")}`, i]));
    await serverPost(site, "/v1/identify", { userId: "u-traits", traits });
    await serverPost(site, "/v1/identify", { userId: "u-traits", traits: { t0000: "updated", brandNew: true } });
    const profile = await (await lookup("userId=u-traits", "ws_bounds")).json<{ traits: Record<string, unknown> }>();
    expect(Object.keys(profile.traits)).toHaveLength(MAX_TRAITS);
    expect(profile.traits.t0000).toBe("updated");
    expect(profile.traits).not.toHaveProperty("brandNew");
  });

  it("counts event names past MAX_COUNTERS under event:(other), keeping the total exact", async () => {
    const site = await createSite({}, "ws_bounds_counters");
    const names = MAX_COUNTERS + 5;
    for (let start = 0; start < names; start += 400) {
      const batch = Array.from({ length: Math.min(400, names - start) }, (_, i) => ({ type: "track", userId: "u-counters", event: `E${start + i}` }));
      expect((await serverPost(site, "/v1/batch", { batch })).status).toBe(200);
    }
    const profile = await (await lookup("userId=u-counters", "ws_bounds_counters")).json<{ counters: Record<string, number> }>();
    expect(Object.keys(profile.counters)).toHaveLength(MAX_COUNTERS);
    expect(profile.counters.total).toBe(names);
    const named = Object.entries(profile.counters).filter(([k]) => k.startsWith("event:") && k !== OTHER_EVENTS).reduce((sum, [, n]) => sum + n, 0);
    expect(named + (profile.counters[OTHER_EVENTS] ?? 0)).toBe(names);
  }, 60_000);
});

describe("meta values in a transaction", () => {
  it("are written when the transaction ends, in one go, and not at all when it throws", async () => {
    const stub = profileStub(env.PROFILES, "ws_meta_tx:user:u-meta" as ProfileKey);
    await runInDurableObject(stub, (instance, state) => {
      const data = (instance as unknown as { data: { transaction: <T>(fn: () => T) => T; set: (n: string, v: string) => void; delete: (n: string) => void; get: (n: string) => string | undefined } }).data;
      const stored = () => state.storage.sql.exec<{ name: string; value: string }>("SELECT name, value FROM meta WHERE name LIKE 'tx_%' ORDER BY name").toArray();
      data.transaction(() => {
        data.set("tx_a", "1");
        data.set("tx_b", "2");
        data.set("tx_b", "3");
        // Held in memory at once, written at the end.
        expect(data.get("tx_b")).toBe("3");
        expect(stored()).toEqual([]);
      });
      expect(stored()).toEqual([
        { name: "tx_a", value: "1" },
        { name: "tx_b", value: "3" },
      ]);
      expect(() =>
        data.transaction(() => {
          data.set("tx_c", "4");
          data.delete("tx_a");
          throw new Error("injected");
        }),
      ).toThrow("injected");
      expect(stored()).toEqual([
        { name: "tx_a", value: "1" },
        { name: "tx_b", value: "3" },
      ]);
      expect(data.get("tx_a")).toBe("1");
      expect(data.get("tx_c")).toBeUndefined();
      data.transaction(() => data.delete("tx_a"));
      expect(stored()).toEqual([{ name: "tx_b", value: "3" }]);
    });
  });
});

describe("an object that starts again", () => {
  it("reads its counter names and identities when it starts, so the bounds hold across restarts", async () => {
    const site = await createSite({}, "ws_bounds_restart");
    const key = "ws_bounds_restart:user:u-restart" as ProfileKey;
    const groups = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ type: "group", userId: "u-restart", groupId: `g${from + i}` }));
    const names = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ type: "track", userId: "u-restart", event: `E${from + i}` }));
    // Full: MAX_IDENTITIES identities (the userId first) and MAX_COUNTERS counters.
    expect((await serverPost(site, "/v1/batch", { batch: groups(0, MAX_IDENTITIES) })).status).toBe(200);
    for (let start = 0; start < MAX_COUNTERS; start += 400) expect((await serverPost(site, "/v1/batch", { batch: names(start, 400) })).status).toBe(200);
    await evictDurableObject(profileStub(env.PROFILES, key));
    // Started again: new groups and names find the sets full.
    expect((await serverPost(site, "/v1/batch", { batch: [...groups(MAX_IDENTITIES, 5), ...names(MAX_COUNTERS + 400, 5)] })).status).toBe(200);
    const profile = await (await lookup("userId=u-restart", "ws_bounds_restart")).json<{ identities: unknown[]; counters: Record<string, number> }>();
    expect(profile.identities).toHaveLength(MAX_IDENTITIES);
    expect(profile.identities).not.toContainEqual({ kind: "groupId", value: `g${MAX_IDENTITIES}` });
    expect(Object.keys(profile.counters)).toHaveLength(MAX_COUNTERS);
    expect(profile.counters[OTHER_EVENTS]).toBeGreaterThanOrEqual(5);
    expect(profile.counters.total).toBe(MAX_IDENTITIES + Math.ceil(MAX_COUNTERS / 400) * 400 + 10);
  }, 60_000);
});

describe("a profile's cheaper first event and batched writes", () => {
  const schemaOf = (state: DurableObjectState) =>
    state.storage.sql
      .exec<{ type: string; name: string; sql: string | null }>("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY type, name")
      .toArray()
      .map((r) => ({ ...r, sql: r.sql?.replace(/\s+/g, " ").replace(/IF NOT EXISTS /g, "").replace(/\( /g, "(").replace(/ \)/g, ")") }));

  it("creates a new profile's tables in one script, the same schema and journal drizzle's migrator writes", async () => {
    const site = await createSite({}, "ws_fresh_schema");
    expect((await serverPost(site, "/v1/track", { userId: "u-fresh", messageId: "f-1", event: "Seen" })).status).toBe(200);
    const fresh = await runInDurableObject(profileStub(env.PROFILES, "ws_fresh_schema:user:u-fresh"), (_i, state) => ({
      schema: schemaOf(state),
      journal: state.storage.sql.exec("SELECT hash, created_at FROM __drizzle_migrations ORDER BY created_at").toArray(),
    }));
    // The same database migrated statement by statement by drizzle's own migrator.
    const { drizzle } = await import("drizzle-orm/durable-sqlite");
    const { migrate } = await import("drizzle-orm/durable-sqlite/migrator");
    const { default: migrations } = await import("../../../worker/profile/migrations/migrations.js");
    const byDrizzle = await runInDurableObject(profileStub(env.PROFILES, "ws_fresh_schema:user:u-other"), async (_i, state) => {
      for (const { name } of state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").toArray()) {
        state.storage.sql.exec(`DROP TABLE "${name}"`);
      }
      await migrate(drizzle(state.storage), migrations);
      return { schema: schemaOf(state), journal: state.storage.sql.exec("SELECT hash, created_at FROM __drizzle_migrations ORDER BY created_at").toArray() };
    });
    expect(fresh.schema.map((r) => r.name)).toContain("outbox");
    expect(fresh).toEqual(byDrizzle);
    // And it is a working profile: the event counted once, a replay is a duplicate.
    await serverPost(site, "/v1/track", { userId: "u-fresh", messageId: "f-1", event: "Seen" });
    const profile = await (await lookup("userId=u-fresh", "ws_fresh_schema")).json<{ counters: Record<string, number> }>();
    expect(profile.counters).toEqual({ total: 1, "type:track": 1, "event:Seen": 1 });
  });

  it("prunes every PRUNE_EVERY stored events even when the object restarts between them", async () => {
    const site = await createSite({}, "ws_prune_restarts");
    const key: ProfileKey = "ws_prune_restarts:user:u-prune";
    const stub = profileStub(env.PROFILES, key);
    // 6 × 45 = 270 events, the object evicted after each request: the stored total crosses 250 in
    // the last one, which prunes the recent events to the newest RECENT_EVENTS (no segment needs more).
    for (let b = 0; b < 6; b++) {
      const batch = Array.from({ length: 45 }, (_, i) => ({ type: "track", userId: "u-prune", messageId: `p-${b}-${i}`, event: `E${i % 3}`, timestamp: new Date(Date.UTC(2026, 10, 1, 0, b, i)).toISOString() }));
      // One messageId twice in the same request counts once.
      batch.push({ ...batch[0]! });
      expect((await serverPost(site, "/v1/batch", { batch })).status).toBe(200);
      await evictDurableObject(stub);
    }
    const rows = await runInDurableObject(stub, (_i, state) => state.storage.sql.exec("SELECT COUNT(*) AS n FROM events").one().n);
    expect(rows).toBe(RECENT_EVENTS);
    const profile = await (await lookup("userId=u-prune", "ws_prune_restarts")).json<{ counters: Record<string, number> }>();
    expect(profile.counters).toEqual({ total: 270, "type:track": 270, "event:E0": 90, "event:E1": 90, "event:E2": 90 });
  }, 60_000);
});
