// Erasure is a job: interrupted by a D1 failure at any point, it never reports success early, and
// its retry (the queue's message, the cron, or the admin asking again) leaves nothing of the
// subject anywhere — Durable Objects, archive, failed events, memberships, the profile index.
import { createExecutionContext, createMessageBatch, createScheduledController, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ingest } from "../../../worker/flows/ingest";
import { parseBatch } from "../../../worker/collect/parse";
import { newVisitorId } from "../../../worker/identity/cookie";
import { profileStub, type ProfileKey } from "../../../worker/identity/keys";
import worker from "../../../worker/index";
import type { PipelineMessage } from "../../../worker/pipeline/messages";
import { ERASE_STEPS, LEASE_MS, openErasure, runErasure } from "../../../worker/privacy/erasure";
import { findSiteByKey, type Site } from "../../../worker/store/sites";
import { adminCall, createSite, drainQueue, type TestSite } from "../helpers";

const WS = "ws_erasejob";
let site: TestSite;
let row: Site;
beforeAll(async () => {
  site = await createSite({}, WS);
  row = (await findSiteByKey(env.DB, site.secretKey))!;
});
// The Worker logs each injected failure; the assertions here are what matters.
beforeEach(() => void vi.spyOn(console, "error").mockImplementation(() => {}));
afterEach(() => vi.restoreAllMocks());

/** Plays the queue by hand: what a request sent is delivered to the real consumer at once. */
async function deliver(messages: PipelineMessage[], db: D1Database = env.DB) {
  const batch = createMessageBatch<PipelineMessage>("cohort-events", messages.map((body, i) => ({ id: `m-${i}-${Math.random()}`, timestamp: new Date(), attempts: 1, body })));
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, DB: db });
  return getQueueResult(batch, ctx);
}

async function send(body: unknown) {
  const queued: PipelineMessage[] = [];
  const capture = { sendBatch: async (batch: MessageSendRequest<PipelineMessage>[]) => void queued.push(...batch.map((m) => m.body)), send: async () => {} };
  await ingest(
    { PROFILES: env.PROFILES, EVENTS: capture as unknown as Queue },
    { site: row, source: "server", parsed: parseBatch(body), newVisitorId, edge: { userAgent: "test", cf: undefined }, receivedAt: new Date() },
  );
  await deliver(queued);
}

/**
 * A numeric user with `anonymous` pre-login browsers (each its own profile, then merged into the
 * user), server events, a refused event naming the user by a JSON number, and memberships.
 */
async function makeSubject(userId: number, anonymous: number) {
  const anonymousIds = Array.from({ length: anonymous }, (_, i) => `anon-${userId}-${i}`);
  await send({ batch: anonymousIds.map((anonymousId) => ({ type: "page", anonymousId, name: "Home", context: { page: { url: "https://shop.example/?gclid=abc" } } })) });
  await send({ batch: anonymousIds.map((anonymousId) => ({ type: "identify", userId, anonymousId, traits: { email: `${userId}@example.com` } })) });
  await send({ batch: [{ type: "track", userId, event: "Order Completed" }, { type: "track", userId }] });
  // What the merged profiles owe (their departure from the index) they send themselves, through
  // the real queue: let it arrive before the test writes the subject's memberships.
  await drainQueue();
  const userKey = `${WS}:user:${userId}`;
  const keys = [userKey, ...anonymousIds.map((id) => `${WS}:anon:${id}`)];
  await env.DB.prepare("INSERT INTO memberships (segment_id, profile_key, workspace_id, member, changed_at) VALUES ('seg-1', ?, ?, 1, ?), ('seg-2', ?, ?, 0, ?)")
    .bind(userKey, WS, Date.now(), keys[1] ?? userKey, WS, Date.now())
    .run();
  const left = await leftOf(String(userId), anonymousIds, keys);
  // The subject is really there before it is erased.
  expect(left.events).toBe(anonymous * 2 + 1);
  expect(left.failedEvents).toBe(1);
  expect(left.memberships).toBe(2);
  expect(left.profiles).toBeGreaterThan(0);
  return { userId: String(userId), anonymousIds, keys };
}

const n = async (query: string, ...params: unknown[]) => (await env.DB.prepare(query).bind(...params).first<{ n: number }>())!.n;

/** What D1 and the Durable Objects still hold of the subject. */
async function leftOf(userId: string, anonymousIds: string[], keys: string[]) {
  const keyList = JSON.stringify(keys);
  const idList = JSON.stringify([userId, ...anonymousIds]);
  const inList = (column: string, list: string) => `${column} IN (SELECT value FROM json_each(?))`.replace("?", `'${list.replaceAll("'", "''")}'`);
  const doRows = await Promise.all(
    keys.map((key) =>
      runInDurableObject(profileStub(env.PROFILES, key as ProfileKey), (_i, state) => {
        const sql = state.storage.sql;
        const tables = sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('events', 'traits', 'identities', 'counters')").toArray().map((r) => String(r.name));
        return tables.reduce((sum, t) => sum + Number(sql.exec(`SELECT COUNT(*) AS n FROM ${t}`).one().n), 0);
      }),
    ),
  );
  return {
    profileData: doRows.reduce((a, b) => a + b, 0),
    events: await n(`SELECT COUNT(*) AS n FROM events WHERE workspace_id = ? AND (${inList("profile_key", keyList)} OR ${inList("user_id", idList)} OR ${inList("anonymous_id", idList)})`, WS),
    failedEvents: await n(
      `SELECT COUNT(*) AS n FROM failed_events WHERE workspace_id = ? AND (CAST(json_extract(payload, '$.userId') AS TEXT) = ? OR instr(payload, ?) > 0)`,
      WS,
      userId,
      `"${userId}"`,
    ),
    memberships: await n(`SELECT COUNT(*) AS n FROM memberships WHERE workspace_id = ? AND ${inList("profile_key", keyList)}`, WS),
    profiles: await n(`SELECT COUNT(*) AS n FROM profiles WHERE workspace_id = ? AND ${inList("profile_key", keyList)}`, WS),
    // The ledger keeps its entries (the proof of consent), but under a pseudonym: no raw id.
    ledger: await n(`SELECT COUNT(*) AS n FROM consent_ledger WHERE workspace_id = ? AND (instr(subject, ?) > 0 OR instr(signals, ?) > 0 OR instr(consent, ?) > 0)`, WS, userId, userId, userId),
  };
}

const NOTHING = { profileData: 0, events: 0, failedEvents: 0, memberships: 0, profiles: 0, ledger: 0 };

/** `env.DB` whose `at`-th round trip (a statement run or a batch) fails, counting every round trip. */
function failingAt(at: number) {
  let calls = 0;
  const tick = () => {
    if (calls++ === at) throw new Error("D1_ERROR: injected failure");
  };
  const real = new WeakMap<object, D1PreparedStatement>();
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(statement, {
      get(target, property) {
        if (property === "bind") return (...args: unknown[]) => wrap(target.bind(...args));
        if (property === "run" || property === "all" || property === "first" || property === "raw") {
          return async (...args: unknown[]) => {
            tick();
            return (target[property] as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    real.set(proxy, statement);
    return proxy;
  };
  const db = new Proxy(env.DB, {
    get(target, property) {
      if (property === "prepare") return (query: string) => wrap(target.prepare(query));
      if (property === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          tick();
          return target.batch(statements.map((s) => real.get(s) ?? s));
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, calls: () => calls };
}

const erase = (userId: string) => adminCall("/admin/api/privacy/erase", { method: "POST", workspace: WS, body: JSON.stringify({ userId }) });

describe("erasure interrupted by D1 at every point", () => {
  it("never reports done early, and its retry leaves nothing of the subject", { timeout: 240_000 }, async () => {
    let interrupted = 0;
    for (let at = 0; ; at++) {
      const subject = await makeSubject(5_000 + at, 2);
      const now = Date.now();
      const faulty = failingAt(at);
      let id: string | undefined;
      let status: string | undefined;
      try {
        id = await openErasure(faulty.db, WS, { userId: subject.userId }, now);
        status = (await runErasure({ DB: faulty.db, PROFILES: env.PROFILES }, id, now))?.status;
      } catch {
        // The request could not even be saved or taken: nothing was erased, nothing claimed.
      }
      if (faulty.calls() <= at) {
        // The whole job ran without reaching the failure: every point before this one was covered.
        expect(status).toBe("done");
        expect(await leftOf(subject.userId, subject.anonymousIds, subject.keys)).toEqual(NOTHING);
        break;
      }
      interrupted++;
      expect(status).not.toBe("done");

      if (!id) {
        // Not even saved: the admin asks again.
        const res = await erase(subject.userId);
        expect(res.status).toBe(200);
        id = (await res.json<{ id: string }>()).id;
      } else {
        const shown = await adminCall(`/admin/api/privacy/requests/${id}`, { workspace: WS });
        expect(shown.status).toBe(200);
        // (Only the read after the last step may fail with the job already done: the runner then
        // says "retrying", never "done" without having read it.)
        if ((await shown.json<{ status: string }>()).status === "done") {
          expect(faulty.calls() - 1).toBe(at);
        } else if (at % 3 === 0) {
          // The queue redelivers the request's message.
          const result = await deliver([{ kind: "erase", workspaceId: WS, id }]);
          expect(result.explicitAcks).toHaveLength(1);
        } else if (at % 3 === 1) {
          // The daily cron finds it unfinished (after any lease a stopped runner held ran out).
          await worker.scheduled(createScheduledController({ scheduledTime: now + LEASE_MS + 1 }), env);
        } else {
          // The admin asks again: the open request resumes (same id), it does not start over.
          const res = await erase(subject.userId);
          expect(res.status).toBe(200);
          expect((await res.json<{ id: string }>()).id).toBe(id);
        }
      }
      const done = await adminCall(`/admin/api/privacy/requests/${id}`, { workspace: WS });
      const view = await done.json<{ status: string; steps: { name: string; done: boolean; count: number }[] }>();
      expect(view.status).toBe("done");
      expect(view.steps.map((s) => s.name)).toEqual([...ERASE_STEPS]);
      expect(view.steps.every((s) => s.done)).toBe(true);
      expect(await leftOf(subject.userId, subject.anonymousIds, subject.keys)).toEqual(NOTHING);
      // Once done, the request keeps counts, not the subject's ids.
      expect(await env.DB.prepare("SELECT subject, scope FROM privacy_requests WHERE id = ?").bind(id).first()).toEqual({ subject: null, scope: null });
    }
    // Every D1 round trip of the job was a point of failure at least once.
    expect(interrupted).toBeGreaterThan(15);
  });
});

describe("erasure interrupted by a Durable Object", () => {
  it("a profile that fails to erase leaves the request retrying; the queue's retry finishes it", async () => {
    const subject = await makeSubject(6_000, 3);
    let failures = 0;
    // The third profile's erase fails once (the object was unreachable).
    const profiles = new Proxy(env.PROFILES, {
      get(target, property) {
        if (property === "get") {
          return (id: DurableObjectId) => {
            const stub = target.get(id);
            return new Proxy(stub, {
              get(s, p) {
                if (p === "erase" && id.equals(target.idFromName(subject.keys[2]!)) && failures++ === 0) return () => Promise.reject(new Error("Durable Object unreachable"));
                const value = Reflect.get(s, p);
                return typeof value === "function" ? (...args: unknown[]) => (s as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>)[p]!(...args) : value;
              },
            });
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const now = Date.now();
    const id = await openErasure(env.DB, WS, { userId: subject.userId }, now);
    const view = await runErasure({ DB: env.DB, PROFILES: profiles }, id, now);
    expect(failures).toBe(1);
    expect(view).toMatchObject({ status: "retrying", lastError: expect.stringContaining("unreachable") });
    expect(view!.steps.filter((s) => s.done).map((s) => s.name)).toEqual(["scope", "suppress"]);
    expect((await deliver([{ kind: "erase", workspaceId: WS, id }])).explicitAcks).toHaveLength(1);
    expect(await leftOf(subject.userId, subject.anonymousIds, subject.keys)).toEqual(NOTHING);
  });
});

describe("a subject with many ids", () => {
  it("a user with 60 merged browser ids is erased completely (every IN list chunked)", { timeout: 120_000 }, async () => {
    const subject = await makeSubject(7_000, 60);
    // The access request reads the same scope, chunked as well.
    const exported = await adminCall("/admin/api/privacy/export", { method: "POST", workspace: WS, body: JSON.stringify({ userId: subject.userId }) });
    expect(exported.status).toBe(200);
    const doc = await exported.json<{ identities: { anonymousIds: string[] }; events: unknown[]; failedEvents: unknown[] }>();
    expect(doc.identities.anonymousIds.sort()).toEqual([...subject.anonymousIds].sort());
    expect(doc.events).toHaveLength(121);
    expect(doc.failedEvents).toHaveLength(1);

    const res = await erase(subject.userId);
    expect(res.status).toBe(200);
    const view = await res.json<{ status: string; steps: { name: string; count: number }[] }>();
    expect(view.status).toBe("done");
    expect(view.steps.find((s) => s.name === "scope")!.count).toBe(61);
    expect(view.steps.find((s) => s.name === "events")!.count).toBe(121);
    expect(view.steps.find((s) => s.name === "failedEvents")!.count).toBe(1);
    expect(await leftOf(subject.userId, subject.anonymousIds, subject.keys)).toEqual(NOTHING);
  });
});

describe("the privacy routes", () => {
  it("refuse bad input with the 400 envelope, and show requests of the token's workspace only", async () => {
    const bad = await adminCall("/admin/api/privacy/erase", { method: "POST", workspace: WS, body: JSON.stringify({ userId: "" }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: "invalid_request", message: expect.stringContaining("userId"), path: expect.any(String) } });
    // Not JSON, or no JSON content type: a 4xx with the envelope too.
    for (const init of [{ body: "{nope", type: "application/json" }, { body: JSON.stringify({ userId: "x" }), type: "text/plain" }]) {
      const res = await adminCall("/admin/api/privacy/erase", { method: "POST", workspace: WS, body: init.body, headers: { "Content-Type": init.type } });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(await res.json()).toEqual({ error: expect.objectContaining({ code: expect.any(String), message: expect.any(String) }) });
    }
    const res = await erase("nobody-at-all");
    expect(res.status).toBe(200);
    const { id } = await res.json<{ id: string }>();
    expect((await adminCall(`/admin/api/privacy/requests/${id}`, { workspace: WS })).status).toBe(200);
    expect((await adminCall(`/admin/api/privacy/requests/${id}`, { workspace: "ws_other" })).status).toBe(404);
    expect((await adminCall(`/admin/api/privacy/requests/${id}`, { workspace: WS, role: "editor" })).status).toBe(403);
    const doc = await (await adminCall("/admin/api/openapi.json")).json<{ paths: Record<string, unknown> }>();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/admin/api/privacy/erase", "/admin/api/privacy/export", "/admin/api/privacy/requests/{id}"]));
  });
});
