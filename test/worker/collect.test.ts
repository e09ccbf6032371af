// The Segment-compatible collection API, as SDKs and the tag use it, and every way it refuses input.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminCall, browserPost, call, cookieOf, createSite, eventually, lookup, serverPost, SITE_ORIGIN, type TestSite } from "./helpers";

let site: TestSite;
beforeAll(async () => {
  site = await createSite();
});

const archived = (messageId: string) =>
  env.DB.prepare("SELECT * FROM events WHERE message_id = ?").bind(messageId).all<Record<string, unknown>>().then((r) => r.results);
const failed = (siteId: string) =>
  env.DB.prepare("SELECT * FROM failed_events WHERE site_id = ? ORDER BY received_at").bind(siteId).all<Record<string, unknown>>().then((r) => r.results);

describe("each endpoint", () => {
  const cases = [
    ["/v1/track", { event: "Product Viewed", properties: { sku: "A1" } }, "track"],
    ["/v1/t", { event: "Product Viewed" }, "track"],
    ["/v1/page", { name: "Home", properties: { path: "/" } }, "page"],
    ["/v1/p", { name: "Home" }, "page"],
    ["/v1/screen", { name: "Settings" }, "screen"],
    ["/v1/s", { name: "Settings" }, "screen"],
    ["/v1/identify", { traits: { plan: "pro" } }, "identify"],
    ["/v1/i", { traits: { plan: "pro" } }, "identify"],
    ["/v1/group", { groupId: "acme", traits: { size: 10 } }, "group"],
    ["/v1/g", { groupId: "acme" }, "group"],
    ["/v1/alias", { previousId: "old-id" }, "alias"],
    ["/v1/a", { previousId: "old-id" }, "alias"],
  ] as const;

  it.each(cases)("%s accepts a %s event and archives it with its type", async (path, fields, type) => {
    const messageId = crypto.randomUUID();
    const res = await serverPost(site, path, { userId: "u-endpoints", messageId, ...fields });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, accepted: 1, rejected: [] });
    const [row] = await eventually(() => archived(messageId), (rows) => rows.length === 1);
    expect(row).toMatchObject({ type, site_id: site.id, user_id: "u-endpoints", profile_key: "ws_test:user:u-endpoints" });
  });

  it.each(["/v1/batch", "/v1/b"])("%s accepts a batch of mixed events", async (path) => {
    const ids = [crypto.randomUUID(), crypto.randomUUID()];
    const res = await serverPost(site, path, {
      batch: [
        { type: "identify", userId: "u-batch", messageId: ids[0], traits: { name: "Ada" } },
        { type: "track", userId: "u-batch", messageId: ids[1], event: "Signed Up" },
      ],
    });
    expect(await res.json()).toEqual({ success: true, accepted: 2, rejected: [] });
    const profile = await (await lookup("userId=u-batch")).json<{ traits: Record<string, unknown> }>();
    expect(profile.traits).toEqual({ name: "Ada" });
  });
});

describe("the write key", () => {
  it("is read from the body as well as from Basic auth", async () => {
    const res = await call("/v1/track", {
      method: "POST",
      body: JSON.stringify({ writeKey: site.secretKey, userId: "u-body-key", event: "E" }),
    });
    expect(res.status).toBe(200);
  });

  it("is required", async () => {
    const res = await call("/v1/track", { method: "POST", body: JSON.stringify({ userId: "u", event: "E" }) });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: "missing_write_key", message: expect.any(String), path: "writeKey" } });
  });

  it("must belong to a site", async () => {
    const res = await call("/v1/track", { method: "POST", headers: { Authorization: `Basic ${btoa("wk_nope:")}` }, body: "{}" });
    expect(res.status).toBe(401);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("invalid_write_key");
  });

  it("of a browser is accepted only from the site's origins", async () => {
    const foreign = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] }, { Origin: "https://evil.example" });
    expect(foreign.status).toBe(403);
    expect((await foreign.json<{ error: { code: string } }>()).error.code).toBe("origin_not_allowed");
    // A sandboxed page or a file:// page sends the origin "null": not one of the site's either.
    const opaque = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] }, { Origin: "null" });
    expect(opaque.status).toBe(403);
    const allowed = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] });
    expect(allowed.status).toBe(200);
  });

  it("without an Origin is an app's: accepted, with a browser's trust, and no CORS headers", async () => {
    const anonymousId = "app-install-1";
    const res = await call("/v1/track", {
      method: "POST",
      cf: { country: "US" },
      headers: { Authorization: `Basic ${btoa(`${site.writeKey}:`)}`, "Content-Type": "application/json" },
      body: JSON.stringify({ anonymousId, event: "App Opened", context: { userAgent: "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240805.005)" } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, accepted: 1, rejected: [] });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
    // It is named by the anonymousId it claims, as a cookieless browser SDK is: no cookie is signed for a claim.
    expect(res.headers.get("Set-Cookie")).toBeNull();
    expect((await (await lookup(`anonymousId=${anonymousId}`)).json<{ counters: Record<string, number> }>()).counters).toMatchObject({ "event:App Opened": 1 });
  });

  it("without an Origin only claims a userId: an unverified identify does not reach the user", async () => {
    const own = await createSite({}, "ws_app_claim");
    await serverPost(own, "/v1/identify", { userId: "victim", traits: { plan: "pro", email: "victim@example.com" } });
    const app = (body: Record<string, unknown>) =>
      call("/v1/batch", {
        method: "POST",
        cf: { country: "US" },
        headers: { Authorization: `Basic ${btoa(`${own.writeKey}:`)}`, "Content-Type": "application/json" },
        body: JSON.stringify({ batch: [{ anonymousId: "stranger-install", context: { userAgent: "Dalvik/2.1.0 (Linux; U; Android 14)" }, ...body }] }),
      });
    const claim = await app({ type: "identify", userId: "victim", traits: { plan: "free", email: "attacker@example.com" } });
    expect(claim.status).toBe(200);
    expect(await claim.json()).toEqual({ success: true, accepted: 1, rejected: [] });
    const victim = await (await lookup("userId=victim", "ws_app_claim")).json<{ traits: Record<string, unknown>; counters: Record<string, number> }>();
    expect(victim.traits).toEqual({ plan: "pro", email: "victim@example.com" });
    expect(victim.counters.total).toBe(1);
    // The claim stays on the install's own profile, as claimedUserId.
    const install = await (await lookup("anonymousId=stranger-install", "ws_app_claim")).json<{ key: string; identities: { kind: string; value: string }[] }>();
    expect(install.key).toBe("ws_app_claim:anon:stranger-install");
    expect(install.identities).not.toContainEqual({ kind: "userId", value: "victim" });
    const archived = await eventually(
      () => env.DB.prepare("SELECT payload, user_id FROM events WHERE site_id = ? AND type = 'identify' AND anonymous_id = 'stranger-install'").bind(own.id).first<{ payload: string; user_id: string | null }>(),
      (row) => row !== null,
    );
    expect(archived!.user_id).toBeNull();
    expect(JSON.parse(archived!.payload).context.claimedUserId).toBe("victim");
  });

  it("matches wildcard subdomain origins", async () => {
    const wild = await createSite({ origins: ["https://*.brand.example"] });
    const ok = await call("/v1/batch", {
      method: "POST",
      headers: { Origin: "https://www.brand.example" },
      body: JSON.stringify({ writeKey: wild.writeKey, batch: [{ type: "page" }] }),
    });
    expect(ok.status).toBe(200);
    const apex = await call("/v1/batch", {
      method: "POST",
      headers: { Origin: "https://brand.example" },
      body: JSON.stringify({ writeKey: wild.writeKey, batch: [{ type: "page" }] }),
    });
    expect(apex.status).toBe(403);
  });

  it("of a disabled site is refused", async () => {
    const off = await createSite();
    const patch = await adminCall(`/admin/api/sites/${off.id}`, { method: "PATCH", body: JSON.stringify({ enabled: false }) });
    expect(patch.status).toBe(200);
    const res = await serverPost(off, "/v1/track", { userId: "u", event: "E" });
    expect(res.status).toBe(403);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("site_disabled");
  });
});

describe("CORS", () => {
  it("answers preflight for SDKs that send JSON or Basic auth", async () => {
    const res = await call("/v1/batch", {
      method: "OPTIONS",
      headers: { Origin: SITE_ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,authorization" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe(SITE_ORIGIN);
    expect(res.headers.get("Access-Control-Allow-Credentials")).toBe("true");
    expect(res.headers.get("Access-Control-Allow-Headers")).toBe("content-type,authorization");
  });

  it("lets the allowed page read the answer and receive the cookie", async () => {
    const res = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] });
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe(SITE_ORIGIN);
    expect(res.headers.get("Access-Control-Allow-Credentials")).toBe("true");
    expect(res.headers.get("Vary")).toContain("Origin");
  });
});

describe("bad input", () => {
  it("refuses a body that is not JSON, and records it", async () => {
    const own = await createSite();
    const res = await serverPost(own, "/v1/track", "{not json");
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("invalid_json");
    const [row] = await eventually(() => failed(own.id), (rows) => rows.length === 1);
    expect(row).toMatchObject({ code: "invalid_json", payload: "{not json" });
  });

  it("names the missing field of a single event and records the event", async () => {
    const own = await createSite();
    const res = await serverPost(own, "/v1/track", { userId: "u", messageId: "m-no-event" });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: "invalid_event", message: expect.stringContaining("event"), path: "event" } });
    const [row] = await eventually(() => failed(own.id), (rows) => rows.length === 1);
    expect(row).toMatchObject({ code: "invalid_event", path: "event", message_id: "m-no-event" });
    expect(JSON.parse(row!.payload as string)).toEqual({ userId: "u", messageId: "m-no-event" });
  });

  it("refuses an event of a server source without userId or anonymousId", async () => {
    const res = await serverPost(site, "/v1/track", { event: "Orphan" });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: { code: "missing_identity", message: expect.any(String), path: "userId" } });
  });

  it("refuses wrong types with the path of the field", async () => {
    const res = await serverPost(site, "/v1/track", { userId: "u", event: "E", properties: "not an object" });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { path: string } }>()).error.path).toBe("properties");
  });

  it("keeps the good events of a batch and lists the bad ones by index", async () => {
    const own = await createSite();
    const good = [crypto.randomUUID(), crypto.randomUUID()];
    const res = await serverPost(own, "/v1/batch", {
      batch: [
        { type: "track", userId: "u-mixed", messageId: good[0], event: "Kept" },
        { type: "track", userId: "u-mixed" },
        "not an event",
        { type: "page", userId: "u-mixed", messageId: good[1] },
        { type: "teleport", userId: "u-mixed" },
      ],
    });
    expect(res.status).toBe(200);
    const body = await res.json<{ accepted: number; rejected: { index: number; code: string; path: string }[] }>();
    expect(body.accepted).toBe(2);
    expect(body.rejected.map((r) => [r.index, r.path])).toEqual([
      [1, "batch.1.event"],
      [2, "batch.2"],
      [4, "batch.4.type"],
    ]);
    const profile = await (await lookup("userId=u-mixed")).json<{ counters: Record<string, number> }>();
    expect(profile.counters.total).toBe(2);
    const rows = await eventually(() => failed(own.id), (r) => r.length === 3);
    expect(rows.map((r) => r.batch_index).sort()).toEqual([1, 2, 4]);
    for (const id of good) await eventually(() => archived(id!), (r) => r.length === 1);
  });

  it("answers 400 when every event of a batch is bad", async () => {
    const res = await serverPost(site, "/v1/batch", { batch: [{ type: "track", userId: "u" }] });
    expect(res.status).toBe(400);
    const body = await res.json<{ error: { code: string }; rejected: unknown[] }>();
    expect(body.error.code).toBe("invalid_batch");
    expect(body.rejected).toHaveLength(1);
  });

  it("refuses a batch that is not a list", async () => {
    const res = await serverPost(site, "/v1/batch", { batch: { type: "track" } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_batch", path: "batch" } });
  });

  it("refuses an event over 32 KB with 413", async () => {
    const res = await serverPost(site, "/v1/track", { userId: "u", event: "Big", properties: { blob: "x".repeat(33 * 1024) } });
    expect(res.status).toBe(413);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("payload_too_large");
  });

  it("rejects an event over 32 KB inside a batch but keeps the rest", async () => {
    const res = await serverPost(site, "/v1/batch", {
      batch: [
        { type: "track", userId: "u-big", event: "Small" },
        { type: "track", userId: "u-big", event: "Big", properties: { blob: "x".repeat(33 * 1024) } },
      ],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 1, rejected: [{ index: 1, code: "event_too_large" }] });
  });

  it("refuses a batch over 500 KB with 413 and records its head", async () => {
    const own = await createSite();
    const batch = Array.from({ length: 40 }, () => ({ type: "track", userId: "u", event: "E", properties: { blob: "y".repeat(15 * 1024) } }));
    const res = await serverPost(own, "/v1/batch", { batch });
    expect(res.status).toBe(413);
    const [row] = await eventually(() => failed(own.id), (rows) => rows.length === 1);
    expect(row).toMatchObject({ code: "payload_too_large" });
  });

  it("keeps fields it does not know", async () => {
    const messageId = crypto.randomUUID();
    await serverPost(site, "/v1/track", { userId: "u-extra", messageId, event: "E", customTopLevel: { a: 1 }, context: { app: { name: "x" } } });
    const [row] = await eventually(() => archived(messageId), (rows) => rows.length === 1);
    const event = JSON.parse(row!.payload as string);
    expect(event.customTopLevel).toEqual({ a: 1 });
    expect(event.context.app).toEqual({ name: "x" });
  });
});

describe("the visitor cookie", () => {
  it("is set by the response to a browser, HttpOnly, and identifies the browser afterwards", async () => {
    const first = await browserPost(site, "/v1/batch", { batch: [{ type: "page", name: "Home" }] });
    const setCookie = first.headers.get("Set-Cookie")!;
    expect(setCookie).toMatch(/^cohort_id=[\w-]+\.0\.[\w-]{43}; Max-Age=34560000; Path=\/; HttpOnly; SameSite=Lax; Secure$/);
    const cookie = cookieOf(first)!;
    const second = await browserPost(site, "/v1/batch", { batch: [{ type: "track", event: "Clicked" }] }, { Cookie: cookie });
    expect(cookieOf(second)).toBe(cookie);
    const anonymousId = cookie.split("=")[1]!.split(".")[0];
    const profile = await (await lookup(`anonymousId=${anonymousId}`)).json<{ counters: Record<string, number> }>();
    expect(profile.counters).toMatchObject({ total: 2, "type:page": 1, "event:Clicked": 1 });
  });

  it("wins over an anonymousId the page sends, which is kept aside", async () => {
    const first = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] });
    const cookie = cookieOf(first)!;
    const messageId = crypto.randomUUID();
    await browserPost(site, "/v1/batch", { batch: [{ type: "track", event: "E", anonymousId: "someone-else", messageId }] }, { Cookie: cookie });
    const [row] = await eventually(() => archived(messageId), (rows) => rows.length === 1);
    expect(row!.anonymous_id).toBe(cookie.split("=")[1]!.split(".")[0]);
    expect(JSON.parse(row!.payload as string).context.clientAnonymousId).toBe("someone-else");
  });

  it("is replaced when forged", async () => {
    const res = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] }, { Cookie: "cohort_id=AAAAAAAAAAAAAAAAAAAAAA.0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" });
    const cookie = cookieOf(res)!;
    expect(cookie).not.toContain("AAAAAAAAAAAAAAAAAAAAAA.");
  });

  it("takes the site's cookie domain when the host is inside it", async () => {
    const own = await createSite({ cookieDomain: "cohort.test" });
    const res = await browserPost(own, "/v1/batch", { batch: [{ type: "page" }] });
    expect(res.headers.get("Set-Cookie")).toContain("Domain=cohort.test");
  });

  it("is not set for server sources or bots", async () => {
    const server = await serverPost(site, "/v1/track", { userId: "u", event: "E" });
    expect(server.headers.get("Set-Cookie")).toBeNull();
    const bot = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] }, { "User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)" });
    expect(bot.status).toBe(200);
    expect(bot.headers.get("Set-Cookie")).toBeNull();
  });
});

describe("the settings document", () => {
  it("points analytics.js at Cohort", async () => {
    const res = await call(`/v1/projects/${site.writeKey}/settings`);
    expect(res.status).toBe(200);
    const body = await res.json<{ integrations: Record<string, { apiKey: string; apiHost: string; protocol: string }> }>();
    expect(body.integrations["Segment.io"]).toMatchObject({ apiKey: site.writeKey, apiHost: "cohort.test/v1", protocol: "https" });
  });

  it("is 404 for an unknown key", async () => {
    const res = await call("/v1/projects/wk_unknown/settings");
    expect(res.status).toBe(404);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("unknown_write_key");
  });
});

describe("/v1/me", () => {
  // It shows a profile by the cookie, following merges into a user profile; since a browser's
  // userId is only a claim, it exists in demo mode only (the e2e suite exercises it there).
  it("is not served outside demo mode", async () => {
    const first = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] });
    const res = await call(`/v1/me?writeKey=${site.writeKey}`, { headers: { Cookie: cookieOf(first)!, Origin: SITE_ORIGIN } });
    expect(res.status).toBe(404);
  });
});

describe("a browser's identity claims", () => {
  it("cannot merge another visitor's profile through alias", async () => {
    await serverPost(site, "/v1/identify", { userId: "u-victim", traits: { email: "victim@example.com" } });
    const attacker = await browserPost(site, "/v1/batch", { batch: [{ type: "alias", previousId: "u-victim", userId: "u-attacker" }] });
    expect(attacker.status).toBe(200);
    const victim = await (await lookup("userId=u-victim")).json<{ key: string; traits: Record<string, unknown> }>();
    expect(victim).toMatchObject({ key: "ws_test:user:u-victim", traits: { email: "victim@example.com" } });
  });
});

it("answers unknown routes with the error envelope", async () => {
  const res = await call("/v1/nope", { method: "POST" });
  expect(res.status).toBe(404);
  expect((await res.json<{ error: { code: string } }>()).error.code).toBe("not_found");
});
