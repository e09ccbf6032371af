// What Segment's analytics.js and RudderStack's JS SDK v3 send, as they send it (payloads captured
// from the real SDKs in Chromium), and the configuration documents they load from Cohort.
import { describe, expect, it } from "vitest";
import { browserClaim, browserPost, call, createSite, lookup, SITE_ORIGIN, type TestSite } from "./helpers";

interface Profile {
  key: string;
  traits: Record<string, unknown>;
  counters: Record<string, number>;
  consent: { purposes: Record<string, boolean>; sources: Record<string, string> };
}

/** RudderStack's own request: JSON with the write key in Basic auth and its extra headers. */
function rudderPost(site: TestSite, path: string, body: Record<string, unknown>, country = "US") {
  return call(path, {
    method: "POST",
    cf: { country },
    headers: {
      Origin: SITE_ORIGIN,
      Authorization: `Basic ${btoa(`${site.writeKey}:`)}`,
      "Content-Type": "application/json;charset=UTF-8",
      AnonymousId: btoa(String(body.anonymousId)),
      SentAt: String(body.sentAt),
      "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    },
    body: JSON.stringify(body),
  });
}

const rudderEvent = (anonymousId: string, fields: Record<string, unknown>, consentManagement?: Record<string, unknown>) => ({
  channel: "web",
  context: {
    traits: {},
    sessionId: 1796219963093,
    ...(consentManagement ? { consentManagement } : {}),
    app: { name: "RudderLabs JavaScript SDK", namespace: "com.rudderlabs.javascript", version: "3.34.1", installType: "npm" },
    library: { name: "RudderLabs JavaScript SDK", version: "3.34.1", variant: "bundled" },
    locale: "en-US",
    page: { path: "/r", referrer: "$direct", url: "https://shop.example/r", title: "" },
    timezone: "GMT+0000",
  },
  originalTimestamp: new Date().toISOString(),
  messageId: crypto.randomUUID(),
  userId: "",
  anonymousId,
  integrations: { All: true },
  sentAt: new Date().toISOString(),
  ...fields,
});

describe("analytics.js payloads", () => {
  it("takes an anonymous event with \"userId\": null as one without a userId", async () => {
    const site = await createSite({}, "ws_ajs_null");
    const anonymousId = crypto.randomUUID();
    const res = await browserClaim(site, "/v1/t", { type: "track", event: "Clicked", userId: null, anonymousId, properties: { a: 1 }, _metadata: { bundled: ["Segment.io"] } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ success: true, accepted: 1, rejected: [] });
    expect((await (await lookup(`anonymousId=${anonymousId}`, "ws_ajs_null")).json<Profile>()).counters).toMatchObject({ "event:Clicked": 1 });
  });

  it("still refuses a userId of another type, naming the field", async () => {
    const site = await createSite({}, "ws_ajs_bad_id");
    for (const userId of [true, { id: 1 }, ["a"], " "]) {
      const res = await browserClaim(site, "/v1/t", { type: "track", event: "Clicked", userId, anonymousId: "a-1" });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "invalid_event", path: "userId" } });
    }
    const alias = await browserClaim(site, "/v1/a", { type: "alias", userId: null, previousId: "x" });
    expect(alias.status).toBe(400);
  });

  it("reads the consent wrapper's categoryPreferences from a cookieless call", async () => {
    const site = await createSite({}, "ws_ajs_consent");
    const anonymousId = crypto.randomUUID();
    const consent = { categoryPreferences: { Analytics: true, Advertising: false } };
    const res = await browserClaim(site, "/v1/p", { type: "page", userId: null, anonymousId, context: { consent } }, {}, "DE");
    expect(res.status).toBe(200);
    const profile = await (await lookup(`anonymousId=${anonymousId}`, "ws_ajs_consent")).json<Profile>();
    expect(profile.consent.purposes).toMatchObject({ analytics: true, advertising: false });
    expect(profile.consent.sources).toMatchObject({ analytics: "explicit", advertising: "explicit" });
  });

  it("counts a retried call once (the same messageId)", async () => {
    const site = await createSite({}, "ws_ajs_retry");
    const anonymousId = crypto.randomUUID();
    const event = { type: "track", event: "Bought", userId: null, anonymousId, messageId: `ajs-next-${crypto.randomUUID()}` };
    for (let i = 0; i < 3; i++) expect((await browserClaim(site, "/v1/t", event)).status).toBe(200);
    expect((await (await lookup(`anonymousId=${anonymousId}`, "ws_ajs_retry")).json<Profile>()).counters).toMatchObject({ total: 1, "event:Bought": 1 });
  });
});

describe("RudderStack JS SDK payloads", () => {
  it("takes its \"userId\": \"\" as no userId, its Basic auth, headers and channel", async () => {
    const site = await createSite({}, "ws_rs_anon");
    const anonymousId = crypto.randomUUID();
    const res = await rudderPost(site, "/v1/page", rudderEvent(anonymousId, { type: "page", properties: { path: "/r" } }));
    expect(res.status).toBe(200);
    expect(res.headers.get("Set-Cookie")).toBeNull();
    const track = await rudderPost(site, "/v1/track", rudderEvent(anonymousId, { type: "track", event: "Clicked", properties: { a: 1 } }));
    expect(track.status).toBe(200);
    expect((await (await lookup(`anonymousId=${anonymousId}`, "ws_rs_anon")).json<Profile>()).counters).toMatchObject({ total: 2, "type:page": 1, "event:Clicked": 1 });
  });

  it("takes an identify's traits from context.traits, where the SDK puts them", async () => {
    const site = await createSite({}, "ws_rs_identify");
    const anonymousId = crypto.randomUUID();
    const event = rudderEvent(anonymousId, { type: "identify", userId: "grace" });
    event.context.traits = { plan: "pro", email: "grace@example.com" };
    // As the page passes it: rudderanalytics.identify(id, traits, {context: {identity: {userHash}}}).
    const res = await browserPost(site, "/v1/identify", event);
    expect(res.status).toBe(200);
    expect((await (await lookup("userId=grace", "ws_rs_identify")).json<Profile>()).traits).toEqual({ plan: "pro", email: "grace@example.com" });
  });

  it("reads context.consentManagement as the visitor's explicit choice", async () => {
    const site = await createSite({}, "ws_rs_consent");
    const anonymousId = crypto.randomUUID();
    const consent = { provider: "oneTrust", allowedConsentIds: ["C0001", "C0002", "C0003"], deniedConsentIds: ["C0004"] };
    // In Germany nothing is granted by default: only the ids give consent.
    const res = await rudderPost(site, "/v1/track", rudderEvent(anonymousId, { type: "track", event: "Clicked" }, consent), "DE");
    expect(res.status).toBe(200);
    const profile = await (await lookup(`anonymousId=${anonymousId}`, "ws_rs_consent")).json<Profile>();
    expect(profile.consent.purposes).toMatchObject({ analytics: true, personalization: true, advertising: false });
    expect(profile.consent.sources).toMatchObject({ analytics: "explicit", personalization: "explicit", advertising: "explicit" });
  });

  it("takes its beacon batches (useBeacon: text/plain, the key in the query)", async () => {
    const site = await createSite({}, "ws_rs_beacon");
    const anonymousId = crypto.randomUUID();
    const batch = [rudderEvent(anonymousId, { type: "page", properties: {} }), rudderEvent(anonymousId, { type: "track", event: "Left Page" })];
    const res = await call(`/beacon/v1/batch?writeKey=${site.writeKey}`, {
      method: "POST",
      cf: { country: "US" },
      headers: { Origin: SITE_ORIGIN, "Content-Type": "text/plain;charset=UTF-8", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36" },
      body: JSON.stringify({ batch, sentAt: new Date().toISOString() }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 2, rejected: [] });
    expect((await (await lookup(`anonymousId=${anonymousId}`, "ws_rs_beacon")).json<Profile>()).counters).toMatchObject({ total: 2, "event:Left Page": 1 });
    const foreign = await call(`/beacon/v1/batch?writeKey=${site.writeKey}`, { method: "POST", headers: { Origin: "https://elsewhere.example" }, body: JSON.stringify({ batch }) });
    expect(foreign.status).toBe(403);
  });

  it("refuses a consentManagement that is not ids, naming the field", async () => {
    const site = await createSite({}, "ws_rs_bad_consent");
    const res = await rudderPost(site, "/v1/track", rudderEvent("a-1", { type: "track", event: "Clicked" }, { allowedConsentIds: "C0002" }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_event", path: "context.consentManagement.allowedConsentIds" } });
  });
});

describe("GET /sourceConfig (RudderStack's configUrl)", () => {
  const query = (key: string) => `?p=npm&v=3.34.1&build=modern&writeKey=${key}&lockIntegrationsVersion=true&lockPluginsVersion=true`;

  it("answers the SDK's own request: trailing slash, extra parameters, the key in Basic auth, CORS", async () => {
    const site = await createSite({ name: "RS shop" }, "ws_rs_config");
    const res = await call(`/sourceConfig/${query(site.writeKey)}`, { headers: { Origin: SITE_ORIGIN, Authorization: `Basic ${btoa(`${site.writeKey}:`)}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe(SITE_ORIGIN);
    const body = await res.json<{ source: { id: string; name: string; writeKey: string; enabled: boolean; config: object; destinations: unknown[] } }>();
    expect(body.source).toMatchObject({ id: site.id, name: "RS shop", writeKey: site.writeKey, enabled: true, destinations: [] });
    expect(body.source.config).toBeTypeOf("object");
  });

  it("answers without the slash, and with the key in Basic auth only", async () => {
    const site = await createSite({}, "ws_rs_config_auth");
    const res = await call("/sourceConfig", { headers: { Authorization: `Basic ${btoa(`${site.writeKey}:`)}` } });
    expect(res.status).toBe(200);
    expect((await res.json<{ source: { id: string } }>()).source.id).toBe(site.id);
  });

  it("answers the preflight its Authorization header causes", async () => {
    const res = await call("/sourceConfig/?writeKey=x", { method: "OPTIONS", headers: { Origin: SITE_ORIGIN, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization" } });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe(SITE_ORIGIN);
    expect(res.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("authorization");
  });

  it("is 404 with CORS headers for an unknown key, and for a secret key", async () => {
    const site = await createSite({}, "ws_rs_config_404");
    for (const key of ["wk_unknown", site.secretKey]) {
      const res = await call(`/sourceConfig/${query(key)}`, { headers: { Origin: SITE_ORIGIN } });
      expect(res.status).toBe(404);
      expect(res.headers.get("Access-Control-Allow-Origin")).toBe(SITE_ORIGIN);
      expect(await res.json()).toMatchObject({ error: { code: "unknown_write_key" } });
      expect(JSON.stringify(await (await call(`/sourceConfig${query(key)}`)).json())).not.toContain(site.id);
    }
  });
});
