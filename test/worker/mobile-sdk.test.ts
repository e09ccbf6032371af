// What Segment's mobile SDKs send (analytics-swift on iOS, analytics-kotlin on Android): a
// /v1/batch with the device, app, OS, screen, network and library in each event's context. The
// events land on the install's profile, and the profile shows the device. From the app itself they
// come with the public write key and no Origin (an app is no web page), and are trusted as a
// browser is: the install's anonymousId names its profile, a userId counts only with its userHash.
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { profileStub } from "../../worker/identity/keys";
import { call, createSite, lookup, serverPost, userHashFor, type TestSite } from "./helpers";

const WS = "ws_mobile";
let site: TestSite;
beforeAll(async () => {
  site = await createSite({}, WS);
});

const sentAt = () => new Date().toISOString();

/** An analytics-swift 1.x event's context on an iPhone. */
const swiftContext = {
  app: { name: "Shop", version: "3.2.0", build: "412", namespace: "com.example.shop" },
  device: { manufacturer: "Apple", type: "ios", model: "iPhone15,2", name: "iPhone", id: "8C0F9D0E-1B5A-4F39-9B1C-2D9E4F1A7C11", adTrackingEnabled: false },
  os: { name: "iOS", version: "17.5.1" },
  screen: { width: 393, height: 852, density: 3 },
  network: { wifi: true, cellular: false, bluetooth: false },
  library: { name: "analytics-swift", version: "1.5.11" },
  locale: "en-GB",
  timezone: "Europe/London",
  instanceId: "1E5C6A7B-2D3E-4F50-8A9B-0C1D2E3F4A5B",
  traits: {},
};

/** An analytics-kotlin 1.x event's context on a Pixel. */
const kotlinContext = {
  app: { name: "Shop", version: "3.1.4", namespace: "com.example.shop", build: "311" },
  device: { id: "5f3d2c1b0a998877", manufacturer: "Google", model: "Pixel 8", name: "shiba", type: "android" },
  os: { name: "Android", version: "14" },
  screen: { density: 2.625, height: 2205, width: 1080 },
  network: { wifi: false, carrier: "Vodafone", cellular: true, bluetooth: false },
  library: { name: "analytics-kotlin", version: "1.16.0" },
  locale: "de-DE",
  userAgent: "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240805.005)",
  timezone: "Europe/Berlin",
  instanceId: "c2b1a0f9-8e7d-4c6b-a5f4-e3d2c1b0a998",
};

/** What analytics-swift 1.x puts in `context.userAgent` on iOS: its WKWebView's user agent. */
const swiftUserAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148";

const gzip = (text: string) => new Response(new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();

/**
 * Posts a batch as the SDKs' HTTP clients do from the app: to `/v1/b`, the public write key in the
 * body's `writeKey` (how both batch files end), the SDK's own User-Agent, no Origin, no cookie;
 * analytics-kotlin gzips a text/plain body. From a visitor in the US (the site's defaults apply).
 */
async function appPost(site: TestSite, sdk: "swift" | "kotlin", batch: Record<string, unknown>[]) {
  const body = JSON.stringify({ batch, sentAt: sentAt(), writeKey: site.writeKey });
  const headers: Record<string, string> =
    sdk === "swift"
      ? { "Content-Type": "application/json; charset=utf-8", "User-Agent": "analytics-ios/1.5.11", "Accept-Encoding": "gzip" }
      : { "Content-Type": "text/plain", "Content-Encoding": "gzip", "User-Agent": "analytics-kotlin/1.16.0" };
  return call("/v1/b", { method: "POST", cf: { country: "US" }, headers, body: sdk === "swift" ? body : await gzip(body) });
}

type Profile = { key: string; traits: Record<string, unknown>; counters: Record<string, number>; device: Record<string, unknown> | null };

describe("Segment's mobile SDKs", () => {
  it("analytics-swift: a screen, a track and an identify of one install, with the device on the profile", async () => {
    const anonymousId = "A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF";
    const now = new Date().toISOString();
    const res = await serverPost(site, "/v1/batch", {
      batch: [
        { type: "screen", name: "Home", properties: {}, anonymousId, messageId: crypto.randomUUID(), timestamp: now, context: swiftContext, integrations: {} },
        { type: "track", event: "Product Viewed", properties: { sku: "A1" }, anonymousId, messageId: crypto.randomUUID(), timestamp: now, context: swiftContext, integrations: {} },
      ],
      sentAt: sentAt(),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, accepted: 2, rejected: [] });
    const profile = await (await lookup(`anonymousId=${anonymousId}`, WS)).json<Profile>();
    expect(profile.counters).toMatchObject({ total: 2, "type:screen": 1, "event:Product Viewed": 1 });
    expect(profile.device).toEqual({
      type: "ios",
      manufacturer: "Apple",
      model: "iPhone15,2",
      os: { name: "iOS", version: "17.5.1" },
      app: { name: "Shop", version: "3.2.0", build: "412", namespace: "com.example.shop" },
    });
    // The device's own identifiers are not on the profile's device.
    expect(JSON.stringify(profile.device)).not.toContain(swiftContext.device.id);
  });

  it("analytics-kotlin: an identify moves the install onto the user, whose profile shows the newest device", async () => {
    const anonymousId = "0b6e2f3a-9c8d-4e7f-a6b5-c4d3e2f1a0b9";
    const now = new Date().toISOString();
    const res = await serverPost(site, "/v1/batch", {
      batch: [
        { type: "track", event: "App Opened", properties: { from_background: false }, anonymousId, messageId: crypto.randomUUID(), timestamp: now, context: kotlinContext, integrations: {} },
        { type: "identify", userId: "ada", traits: { name: "Ada" }, anonymousId, messageId: crypto.randomUUID(), timestamp: now, context: kotlinContext, integrations: {} },
      ],
      sentAt: sentAt(),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, accepted: 2, rejected: [] });
    const profile = await (await lookup("userId=ada", WS)).json<Profile>();
    expect(profile.traits).toMatchObject({ name: "Ada" });
    expect(profile.device).toEqual({
      type: "android",
      manufacturer: "Google",
      model: "Pixel 8",
      os: { name: "Android", version: "14" },
      app: { name: "Shop", version: "3.1.4", build: "311", namespace: "com.example.shop" },
    });
  });

  it("an install's device moves with it when a later identify merges it into the user", async () => {
    const anonymousId = "F0E1D2C3-B4A5-4968-8776-655443322110";
    const now = new Date().toISOString();
    const seen = await serverPost(site, "/v1/batch", { batch: [{ type: "screen", name: "Home", anonymousId, messageId: crypto.randomUUID(), timestamp: now, context: swiftContext }] });
    expect(seen.status).toBe(200);
    // The site's server identifies the install later, without any device context of its own.
    const identified = await serverPost(site, "/v1/identify", { userId: "grace", anonymousId, traits: { name: "Grace" } });
    expect(identified.status).toBe(200);
    const profile = await (await lookup("userId=grace", WS)).json<Profile>();
    expect(profile.device).toMatchObject({ type: "ios", model: "iPhone15,2", app: { version: "3.2.0" } });
  });

  it("analytics-swift from the app, with the public write key: the install's profile shows the device", async () => {
    const anonymousId = "9D1E2F3A-4B5C-4D6E-8F70-8192A3B4C5D6";
    const context = { ...swiftContext, userAgent: swiftUserAgent };
    const now = new Date().toISOString();
    const res = await appPost(site, "swift", [
      { type: "screen", name: "Home", properties: {}, anonymousId, messageId: crypto.randomUUID(), timestamp: now, context, integrations: {} },
      { type: "track", event: "Product Viewed", properties: { sku: "A1" }, anonymousId, messageId: crypto.randomUUID(), timestamp: now, context, integrations: {} },
    ]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, accepted: 2, rejected: [] });
    // No page to read the answer, no cookie for a claimed id.
    expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
    expect(res.headers.get("Set-Cookie")).toBeNull();
    const profile = await (await lookup(`anonymousId=${anonymousId}`, WS)).json<Profile>();
    expect(profile.key).toBe(`${WS}:anon:${anonymousId}`);
    expect(profile.counters).toMatchObject({ total: 2, "type:screen": 1, "event:Product Viewed": 1 });
    expect(profile.device).toMatchObject({
      type: "ios",
      manufacturer: "Apple",
      model: "iPhone15,2",
      os: { name: "iOS", version: "17.5.1" },
      app: { name: "Shop", version: "3.2.0", build: "412", namespace: "com.example.shop" },
    });
  });

  it("analytics-kotlin from the app, with the public write key: a verified identify moves the install onto the user", async () => {
    const anonymousId = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f";
    const now = new Date().toISOString();
    // The app's backend hands the signed-in user's userHash to the app, which adds it to the
    // identify's context (a Segment enrichment plugin), as a page passes it to analytics.js.
    const identity = { userHash: await userHashFor(site, "ada-app") };
    const res = await appPost(site, "kotlin", [
      { type: "track", event: "App Opened", properties: { from_background: false }, anonymousId, messageId: crypto.randomUUID(), timestamp: now, context: kotlinContext, integrations: {} },
      { type: "identify", userId: "ada-app", traits: { name: "Ada" }, anonymousId, messageId: crypto.randomUUID(), timestamp: now, context: { ...kotlinContext, identity }, integrations: {} },
    ]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, accepted: 2, rejected: [] });
    const profile = await (await lookup("userId=ada-app", WS)).json<Profile>();
    expect(profile.traits).toMatchObject({ name: "Ada" });
    expect(profile.counters).toMatchObject({ total: 2, "event:App Opened": 1, "type:identify": 1 });
    expect(profile.device).toMatchObject({
      type: "android",
      manufacturer: "Google",
      model: "Pixel 8",
      os: { name: "Android", version: "14" },
      app: { name: "Shop", version: "3.1.4", build: "311", namespace: "com.example.shop" },
    });
  });

  it("analytics-kotlin from the app: an identify without its userHash stays a claim on the install", async () => {
    const anonymousId = "claiming-install";
    const res = await appPost(site, "kotlin", [{ type: "identify", userId: "grace-app", traits: { name: "Grace" }, anonymousId, messageId: crypto.randomUUID(), context: kotlinContext }]);
    expect(res.status).toBe(200);
    expect((await lookup("userId=grace-app", WS)).status).toBe(404);
    const install = await (await lookup(`anonymousId=${anonymousId}`, WS)).json<Profile>();
    expect(install.key).toBe(`${WS}:anon:${anonymousId}`);
    expect(install.device).toMatchObject({ type: "android", model: "Pixel 8" });
  });

  it("a withdrawal of consent forgets the device with the rest of the profile", async () => {
    const anonymousId = "withdrawn-install";
    const consent = (granted: boolean) => ({ consent: { categoryPreferences: { Analytics: granted, Personalization: granted } } });
    const first = await serverPost(site, "/v1/track", { anonymousId, event: "App Opened", context: { ...kotlinContext, ...consent(true) } });
    expect(first.status).toBe(200);
    expect((await (await lookup(`anonymousId=${anonymousId}`, WS)).json<Profile>()).device).toMatchObject({ model: "Pixel 8" });
    const refused = await serverPost(site, "/v1/track", { anonymousId, event: "Consent Withdrawn", context: { ...kotlinContext, ...consent(false) } });
    expect(refused.status).toBe(200);
    expect((await lookup(`anonymousId=${anonymousId}`, WS)).status).toBe(404);
    const stored = await runInDurableObject(profileStub(env.PROFILES, `${WS}:anon:${anonymousId}`), async (_instance, state) =>
      state.storage.sql.exec("SELECT name FROM meta WHERE name = 'device'").toArray(),
    );
    expect(stored).toEqual([]);
  });
});
