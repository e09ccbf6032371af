// Hostile input on every public endpoint (property-based, fast-check, fixed seed): malformed JSON,
// wrong types, huge strings, deep nesting, unicode edge cases, prototype-pollution keys. Always a
// 2xx or a 4xx with the error envelope, never a 5xx; nothing corrupt is stored, and what is stored
// is what was sent; Object.prototype stays clean; the valid events of a mixed batch are all kept.
// Each test sends what it checks: none depends on another having run.
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { adminCall, call, createSite, drainQueue, eventually, lookup, SITE_ORIGIN, type TestSite } from "../helpers";
import { bodyText, edgeStrings, hostileString, invalidEvent, LONE_SURROGATE, validEvent } from "./arbitraries";

const WORKSPACE = "ws_fuzz";
const SEED = 20261129;
/** Runs per property: enough to hit every generator branch, small enough for ~30 s on 2 cores. */
const RUNS = 60;
const EVENT_TYPES = ["track", "page", "screen", "identify", "group", "alias"];
const COLLECT_PATHS = [...EVENT_TYPES, "batch", "t", "p", "s", "i", "g", "a", "b"].map((p) => `/v1/${p}`);

const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
let site: TestSite;

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

/** A batch of valid and invalid events (which is which is known), the valid ones all of `userId`'s. */
function mixedBatch(prefix: string) {
  let run = 0;
  return fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }).chain((kinds) => {
    const userId = `${prefix}-${run++}`;
    return fc.tuple(...kinds.map((valid, i) => (valid ? validEvent(userId, `${userId}-${i}`).map((e) => ({ valid, e })) : invalidEvent.map((e) => ({ valid, e })))));
  });
}

/** Archived rows of `messageIds` in the fuzz workspace (the IN list chunked under D1's 100 parameters). */
async function archivedRows(messageIds: string[]) {
  const rows = new Map<string, { message_id: string; type: string; name: string | null; payload: string }>();
  for (let i = 0; i < messageIds.length; i += 90) {
    const chunk = messageIds.slice(i, i + 90);
    const { results } = await env.DB.prepare(`SELECT message_id, type, name, payload FROM events WHERE workspace_id = ? AND message_id IN (${chunk.map(() => "?").join(",")})`)
      .bind(WORKSPACE, ...chunk)
      .all<{ message_id: string; type: string; name: string | null; payload: string }>();
    for (const row of results) rows.set(row.message_id, row);
  }
  return rows;
}

/** What a JSON body can carry of a value: what the archive must give back (NaN → null, -0 → 0…). */
const asJson = (value: unknown) => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** Context fields Cohort fills in or replaces (enrichment, DESIGN.md): the rest is kept as sent. */
const ENRICHED_CONTEXT = ["userAgent", "browser", "os", "device", "campaign", "referrer", "location", "bot", "ip", "page", "clientAnonymousId"];

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
    await fc.assert(
      fc.asyncProperty(
        mixedBatch("mix"),
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
  // Each string goes in once, as an event name, a property name and a property value, each under
  // its own messageId. Event names are trimmed (the schema's one documented normalisation).
  const cases = edgeStrings.map((text, i) => ({ text, shown: JSON.stringify(text), messageId: `edge-${i}` })).filter(({ text }) => text.trim() !== "");
  const statuses = new Map<string, number>();
  beforeAll(async () => {
    for (const { text, messageId } of cases) {
      const res = await call("/v1/track", collectRequest("/v1/track", JSON.stringify({ userId: "u-edge", messageId, event: text, properties: { [text]: text } }), "secret"));
      statuses.set(messageId, (await expectSafe(res, `edge string ${JSON.stringify(text)}`)).status);
    }
    await drainQueue();
  });

  // Compared as JSON text: an unpaired surrogate in a failure message would break the test
  // runner's own (UTF-8) channel, and JSON.stringify escapes it.
  const same = (actual: unknown, expected: unknown, what: string) => expect(JSON.stringify(actual), what).toBe(JSON.stringify(expected));

  async function expectStoredAsSent({ text, messageId }: (typeof cases)[number]) {
    const status = statuses.get(messageId)!;
    const row = (await archivedRows([messageId])).get(messageId);
    if (status !== 200) {
      // Refused: nothing of it is kept.
      expect(row).toBeUndefined();
      return;
    }
    expect(row !== undefined, "archived").toBe(true);
    const payload = JSON.parse(row!.payload) as { event: string; properties: Record<string, unknown> };
    same(payload.event, text.trim(), "archived event name");
    same(row!.name, text.trim(), "archived name column");
    same(payload.properties, { [text]: text }, "archived properties");
    const profile = await (await lookup("userId=u-edge", WORKSPACE)).json<{ counters: Record<string, number>; recentEvents: { messageId: string; event?: string; properties: Record<string, unknown> }[] }>();
    expect(Object.hasOwn(profile.counters, `event:${text.trim()}`) && profile.counters[`event:${text.trim()}`], "the profile's counter").toBe(1);
    const recent = profile.recentEvents.find((e) => e.messageId === messageId);
    same(recent?.event, text.trim(), "the profile's recent event");
    same(recent?.properties, { [text]: text }, "the profile's recent properties");
  }

  it.each(cases.filter(({ text }) => !LONE_SURROGATE.test(text)))("stores $shown exactly as it was accepted", expectStoredAsSent);

  // An event name with an unpaired surrogate is refused (400 with its path), never stored changed:
  // D1's text column would hold U+FFFD in its place.
  it.each(cases.filter(({ text }) => LONE_SURROGATE.test(text)))("refuses $shown (an unpaired surrogate) rather than store it changed", expectStoredAsSent);
});

describe("what reached D1", () => {
  afterAll(() => vi.restoreAllMocks());

  it("holds every accepted valid event once, as it was sent, and no archived row is corrupt", async () => {
    // Its own mixed batches (another seed than the test above), each with an event that is refused.
    const batches = fc.sample(mixedBatch("d1"), { seed: SEED + 1, numRuns: 20 });
    const sent = new Map<string, Record<string, unknown>>();
    for (const items of batches) {
      const batch = [...items.map((i) => i.e), { type: "track", userId: "u-refused" }];
      const res = await call("/v1/batch", collectRequest("/v1/batch", JSON.stringify({ batch }), "secret"));
      const { status, text } = await expectSafe(res, `d1 batch ${JSON.stringify(batch).slice(0, 300)}`);
      if (!items.some((i) => i.valid)) continue;
      expect(status, text).toBe(200);
      for (const { valid, e } of items) if (valid) sent.set((e as { messageId: string }).messageId, e as Record<string, unknown>);
    }
    const ids = [...sent.keys()];
    expect(ids.length).toBeGreaterThan(0);
    await drainQueue();
    const found = await archivedRows(ids);
    expect(ids.filter((id) => !found.has(id)), `consumer log: ${logged.filter((l) => l.includes("D1")).at(-1)}`).toEqual([]);

    for (const [messageId, event] of sent) {
      const stored = JSON.parse(found.get(messageId)!.payload) as Record<string, any>;
      const shown = JSON.stringify(event).slice(0, 300);
      expect(stored.type, shown).toBe(event.type);
      expect(stored.userId, shown).toBe(event.userId);
      for (const field of ["properties", "traits"] as const) expect(stored[field], `${field} of ${shown}`).toEqual(asJson(event[field]));
      for (const field of ["event", "groupId", "previousId"] as const) {
        if (event[field] !== undefined) expect(stored[field], `${field} of ${shown}`).toBe(String(event[field]).trim());
      }
      if (event.name !== undefined) expect(stored.name, shown).toBe(event.name);
      const context = asJson(event.context) as Record<string, unknown> | undefined;
      for (const [key, value] of Object.entries(context ?? {})) {
        // A context field named __proto__ is lost: the test below pins that on its own.
        if (!ENRICHED_CONTEXT.includes(key) && key !== "__proto__") expect(stored.context[key], `context.${key} of ${shown}`).toEqual(value);
      }
    }

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

  // Found by the comparison above: the schema's loose objects (the event, its context, context.page)
  // are rebuilt key by key, so a field named "__proto__" is dropped there, while properties and
  // traits keep it as data. Not listed in issue 11; left failing until the schema keeps it.
  it("keeps a context field named __proto__ as data, as it keeps one in properties and traits", async () => {
    const text = '{"userId":"u-proto-context","messageId":"proto-context","event":"E","properties":{"__proto__":1},"context":{"__proto__":{"a":1},"kept":true}}';
    const res = await call("/v1/track", collectRequest("/v1/track", text, "secret"));
    expect((await expectSafe(res, "context.__proto__")).status).toBe(200);
    await drainQueue();
    const stored = JSON.parse((await archivedRows(["proto-context"])).get("proto-context")!.payload) as { properties: object; context: object };
    expect(Object.hasOwn(stored.properties, "__proto__")).toBe(true);
    expect(Object.hasOwn(stored.context, "kept")).toBe(true);
    expect(Object.hasOwn(stored.context, "__proto__")).toBe(true);
  });
});
