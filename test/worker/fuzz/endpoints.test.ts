// Hostile input on every public endpoint (property-based, fast-check, fixed seed): malformed JSON,
// wrong types, huge strings, deep nesting, unicode edge cases, prototype-pollution keys. Always a
// 2xx or a 4xx with the error envelope, never a 5xx; nothing corrupt is stored; Object.prototype
// stays clean; the valid events of a mixed batch are all kept.
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { adminCall, call, createSite, eventually, lookup, SITE_ORIGIN, type TestSite } from "../helpers";
import { bodyText, edgeStrings, hostileString, invalidEvent, validEvent } from "./arbitraries";

const WORKSPACE = "ws_fuzz";
const SEED = 20261129;
/** Runs per property: enough to hit every generator branch, small enough for ~30 s on 2 cores. */
const RUNS = 60;
const EVENT_TYPES = ["track", "page", "screen", "identify", "group", "alias"];
const COLLECT_PATHS = [...EVENT_TYPES, "batch", "t", "p", "s", "i", "g", "a", "b"].map((p) => `/v1/${p}`);

const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
let site: TestSite;
/** messageIds of valid events the Worker accepted: each must reach the D1 archive. */
const accepted = new Set<string>();

beforeAll(async () => {
  site = await createSite({}, WORKSPACE);
});
// Unexpected errors are logged by the Worker before its 500; kept here and shown with the failure.
const logged: string[] = [];
beforeEach(() =>
  void vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    logged.push(args.map((a) => (a instanceof Error ? a.stack?.split("\n").slice(0, 4).join(" ") : String(a).slice(0, 200))).join(" "));
  }),
);

/** The contract for every answer: < 500; a 4xx carries {"error":{"code","message"}}. */
async function expectSafe(res: Response, what: string) {
  const text = await res.text();
  const shown = `${what} → ${res.status} ${text.slice(0, 300)}${res.status >= 500 ? `\nWorker log: ${logged.at(-1)}` : ""}`;
  expect(res.status, shown).toBeLessThan(500);
  expect(res.status, shown).toBeGreaterThanOrEqual(200);
  if (res.status >= 400) {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    expect(typeof body.error?.code, shown).toBe("string");
    expect(typeof body.error?.message, shown).toBe("string");
  } else if (res.headers.get("Content-Type")?.includes("json")) {
    expect(() => JSON.parse(text), shown).not.toThrow();
  }
  expectPrototypeClean();
  return { status: res.status, text };
}

function expectPrototypeClean() {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
  const probe = {} as Record<string, unknown>;
  expect(probe.polluted).toBeUndefined();
  expect(probe.p).toBeUndefined();
  expect(Object.getPrototypeOf(probe)).toBe(Object.prototype);
}

const auths = ["secret", "browser", "none", "garbage", "unknown"] as const;

function collectRequest(path: string, text: string, auth: (typeof auths)[number]): RequestInit {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  let body = text;
  if (auth === "secret") headers.Authorization = `Basic ${btoa(`${site.secretKey}:`)}`;
  if (auth === "garbage") headers.Authorization = "Basic !!not-base64!!";
  if (auth === "unknown") headers.Authorization = `Basic ${btoa("sk_nobody:")}`;
  if (auth === "browser") {
    headers.Origin = SITE_ORIGIN;
    headers["Content-Type"] = "text/plain";
    headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
    // The tag puts the write key in the body; a body that is not an object goes as it is.
    if (text.startsWith("{")) body = `{"writeKey":${JSON.stringify(site.writeKey)},${text.slice(1)}`;
  }
  return { method: "POST", headers, body };
}

/** A query or path segment with any character, including ones encodeURIComponent refuses. */
const urlPart = fc.oneof(
  fc.constantFrom("%", "%zz", "%ED%A0%80", "%00", "..%2F..", "%F0%9F%98%80"),
  hostileString.map((s) => [...s].map((ch) => (ch.length === 1 && ch >= "\ud800" && ch <= "\udfff" ? "%ED%A0%80" : encodeURIComponent(ch))).join("")),
);

describe("collection endpoints", () => {
  it("answer every body 2xx or 4xx with the envelope", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...COLLECT_PATHS), fc.constantFrom(...auths), bodyText, async (path, auth, text) => {
        await expectSafe(await call(path, collectRequest(path, text, auth)), `${auth} ${path} ${JSON.stringify(text.slice(0, 120))}`);
      }),
      { seed: SEED, numRuns: RUNS * 4, endOnFailure: true },
    );
  }, 60_000);

  it("keep every valid event of a mixed batch and refuse the rest by index", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant(true), fc.constant(false)), { minLength: 1, maxLength: 10 }).chain((kinds) => {
          const userId = `mix-${run++}`;
          return fc.tuple(...kinds.map((valid, i) => (valid ? validEvent(userId, `${userId}-${i}`).map((e) => ({ valid, e })) : invalidEvent.map((e) => ({ valid, e })))));
        }),
        async (items) => {
          const userId = (items.find((i) => i.valid)?.e as { userId?: string } | undefined)?.userId;
          const res = await call("/v1/batch", collectRequest("/v1/batch", JSON.stringify({ batch: items.map((i) => i.e) }), "secret"));
          const { status, text } = await expectSafe(res, `mixed batch ${JSON.stringify(items).slice(0, 300)}`);
          const body = JSON.parse(text) as { accepted?: number; rejected: { index: number }[] };
          const validIndexes = items.flatMap((item, i) => (item.valid ? [i] : []));
          const invalidIndexes = items.flatMap((item, i) => (item.valid ? [] : [i]));
          expect(body.rejected.map((r) => r.index)).toEqual(invalidIndexes);
          if (validIndexes.length === 0) {
            expect(status).toBe(400);
            return;
          }
          expect(status, text).toBe(200);
          expect(body.accepted).toBe(validIndexes.length);
          const profile = await (await lookup(`userId=${encodeURIComponent(userId!)}`, WORKSPACE)).json<{ counters: Record<string, number> }>();
          expect(profile.counters.total).toBe(validIndexes.length);
          for (const i of validIndexes) accepted.add(`${userId}-${i}`);
        },
      ),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 60_000);
});

describe("read endpoints and the admin API", () => {
  it("GET /v1/projects/:key/settings and /v1/me answer any key with 2xx or a 4xx envelope", async () => {
    await fc.assert(
      fc.asyncProperty(urlPart, fc.constantFrom(undefined, SITE_ORIGIN, "https://evil.example", "null"), async (key, origin) => {
        const headers = origin ? { Origin: origin } : undefined;
        await expectSafe(await call(`/v1/projects/${key}/settings`, { headers }), `settings ${key}`);
        await expectSafe(await call(`/v1/me?writeKey=${key}`, { headers }), `me ${key}`);
        await expectSafe(await call(`/v1/me?writeKey=${key}`, { headers: { ...headers, Cookie: `cohort_id=${key}` } }), `me cookie ${key}`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 60_000);

  it("GET /admin/api/profiles/lookup answers any query with 2xx or a 4xx envelope", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("userId", "anonymousId", "both", "none"), urlPart, async (kind, value) => {
        const query = kind === "both" ? `userId=${value}&anonymousId=${value}` : kind === "none" ? `x=${value}` : `${kind}=${value}`;
        await expectSafe(await lookup(query, WORKSPACE), `lookup ${query}`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 60_000);

  it("POST /admin/api/sites answers any body with 2xx or a 4xx envelope", async () => {
    const siteBody = fc.oneof(
      bodyText,
      fc
        .record({ name: hostileString, origins: fc.array(fc.oneof(hostileString, fc.constantFrom("https://a.example", "https://*.example.com", "javascript:alert(1)")), { maxLength: 3 }), cookieDomain: hostileString, consentDefaults: fc.dictionary(hostileString, fc.boolean(), { maxKeys: 3 }) }, { requiredKeys: [] })
        .map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(siteBody, async (text) => {
        await expectSafe(await adminCall("/admin/api/sites", { method: "POST", workspace: WORKSPACE, body: text }), `sites ${JSON.stringify(text.slice(0, 120))}`);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 60_000);
});

describe("edge-case strings", () => {
  it("never stores an edge-case string differently from how it was accepted", async () => {
    for (const [i, s] of edgeStrings.entries()) {
      if (s.trim() === "") continue;
      const res = await call("/v1/track", collectRequest("/v1/track", JSON.stringify({ userId: "u-edge", messageId: `edge-${i}`, event: s, properties: { [s]: s } }), "secret"));
      const { status } = await expectSafe(res, `edge string ${JSON.stringify(s)}`);
      if (status === 200) accepted.add(`edge-${i}`);
    }
  });
});

describe("what reached D1", () => {
  afterAll(() => vi.restoreAllMocks());

  it("holds every accepted valid event once, and no archived row is corrupt", async () => {
    const ids = [...accepted];
    expect(ids.length).toBeGreaterThan(0);
    const present = async () => {
      const found = new Set<string>();
      for (let i = 0; i < ids.length; i += 90) {
        const chunk = ids.slice(i, i + 90);
        const { results } = await env.DB.prepare(`SELECT message_id FROM events WHERE workspace_id = ? AND message_id IN (${chunk.map(() => "?").join(",")})`)
          .bind(site.workspaceId, ...chunk)
          .all<{ message_id: string }>();
        for (const row of results) found.add(row.message_id);
      }
      return found;
    };
    const found = await eventually(present, (f) => f.size === ids.length, 30_000).catch(async () => present());
    expect(ids.filter((id) => !found.has(id)), `consumer log: ${logged.filter((l) => l.includes("D1")).at(-1)}`).toEqual([]);

    const { results: rows } = await env.DB.prepare("SELECT message_id, type, payload FROM events WHERE workspace_id = ?").bind(site.workspaceId).all<{ message_id: string; type: string; payload: string }>();
    for (const row of rows) {
      let payload: { type?: unknown; messageId?: unknown; timestamp?: unknown; receivedAt?: unknown };
      expect(() => (payload = JSON.parse(row.payload)), row.payload.slice(0, 200)).not.toThrow();
      expect(EVENT_TYPES, row.payload.slice(0, 200)).toContain(payload!.type);
      expect(payload!.type).toBe(row.type);
      expect(payload!.messageId, row.payload.slice(0, 200)).toBe(row.message_id);
      expect(Number.isFinite(Date.parse(String(payload!.timestamp))), row.payload.slice(0, 200)).toBe(true);
      expect(Number.isFinite(Date.parse(String(payload!.receivedAt))), row.payload.slice(0, 200)).toBe(true);
    }
    const { results: failed } = await env.DB.prepare("SELECT code, message, payload FROM failed_events WHERE workspace_id = ?").bind(site.workspaceId).all<{ code: string; message: string; payload: string }>();
    expect(failed.length).toBeGreaterThan(0);
    for (const row of failed) {
      expect(row.code).toMatch(/^[a-z_]+$/);
      expect(typeof row.payload).toBe("string");
    }
    expectPrototypeClean();
  }, 60_000);
});
