// Segment's analytics.js (@segment/analytics-next, with its consent wrapper) and RudderStack's JS
// SDK v3, unchanged, in Chromium on a page of the customer's site (another origin than Cohort),
// pointed at a real `wrangler dev`: they load their settings from Cohort, post cross-origin without
// credentials (so Cohort's cookie never comes back to them), and every event of one browser lands
// on one profile, named by the SDK's own anonymousId.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { e2e, eventually, hasTrack, launchChromium, lookup, newVisitorContext, proxyStats, setProxy, trackNames, userHashFor, type Profile } from "./helpers";

let browser: Browser;
let context: BrowserContext;
let page: Page;
let browserLog: string[];
let requests: string[];

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async ({ task }) => {
  if (task.result?.state === "fail") console.log(`browser log of "${task.name}":\n  ${browserLog.join("\n  ")}`);
  await setProxy("up");
  await context?.close();
});

async function openPage(path: string, query: Record<string, string>) {
  context = await newVisitorContext(browser);
  page = await context.newPage();
  browserLog = [];
  requests = [];
  page.on("pageerror", (error) => browserLog.push(`pageerror: ${error.message}`));
  page.on("console", (message) => browserLog.push(`console.${message.type()}: ${message.text()}`));
  page.on("requestfailed", (request) => browserLog.push(`failed ${request.method()} ${request.url()}: ${request.failure()?.errorText}`));
  page.on("response", async (response) => {
    const request = response.request();
    requests.push(`${response.status()} ${request.method()} ${new URL(request.url()).pathname}`);
    browserLog.push(`${response.status()} ${request.method()} ${request.url()} ${(await response.text().catch(() => "")).slice(0, 200)}`);
  });
  const url = new URL(path, e2e().customerUrl);
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
  await page.goto(url.toString());
}

const cohortCookie = async () => (await context.cookies(e2e().url)).find((c) => c.name === "cohort_id");
const byAnonymousId = (anonymousId: string) => () => lookup({ anonymousId });
const count = (name: string) => (profile: Profile | null) => profile?.counters[name] ?? 0;

/** `POST /v1/track` from the site's own server (secret key), naming the browser by its SDK's anonymousId. */
async function serverTrack(anonymousId: string, event: string) {
  const { url, secretKey } = e2e();
  const res = await fetch(`${url}/v1/track`, {
    method: "POST",
    headers: { authorization: `Basic ${btoa(`${secretKey}:`)}`, "content-type": "application/json" },
    body: JSON.stringify({ anonymousId, event, properties: { from: "server" } }),
  });
  expect(res.status).toBe(200);
}

/** What the SDK pages put on `window` (sdk-pages.ts): the SDKs' own objects. */
declare global {
  interface Window {
    ajs: {
      page: () => Promise<unknown>;
      track: (event: string, properties?: object, options?: object) => Promise<unknown>;
      identify: (userId: string, traits?: object, options?: object) => Promise<unknown>;
      user: () => Promise<{ anonymousId: () => string }>;
      addSourceMiddleware: (fn: (args: { payload: { obj: { userId?: string; context?: Record<string, unknown> } }; next: (payload: unknown) => void }) => void) => Promise<unknown>;
    };
    ra: {
      page: () => void;
      track: (event: string, properties?: object, options?: object) => void;
      identify: (userId: string, traits?: object, options?: object) => void;
      getAnonymousId: () => string;
      ready: (callback: () => void) => void;
    };
  }
}

const ajsAnonymousId = () => page.evaluate(async () => (await window.ajs.user()).anonymousId());

describe("Segment's analytics.js", () => {
  const consent = JSON.stringify({ Analytics: true, Personalization: true, Advertising: false });

  it("loads its settings from Cohort; page and track land on the profile its anonymousId names, with the consent wrapper's preferences, and no cookie", async () => {
    await openPage("/sdk/segment", { consent });
    await page.evaluate(() => window.ajs.page());
    await page.evaluate(() => window.ajs.track("Product Viewed", { sku: "sku-1", price: 42 }));
    const anonymousId = await ajsAnonymousId();

    const profile = await eventually(byAnonymousId(anonymousId), hasTrack("Product Viewed"), "analytics.js's events");
    expect(requests).toContain(`200 GET /v1/projects/${e2e().writeKey}/settings`);
    expect(profile!.key).toBe(`e2e:anon:${anonymousId}`);
    expect(profile!.counters).toMatchObject({ "type:page": 1, "event:Product Viewed": 1 });
    expect(profile!.recentEvents.find((e) => e.event === "Product Viewed")!.properties).toMatchObject({ sku: "sku-1", price: 42 });
    expect(profile!.consent).toMatchObject({ purposes: { analytics: true, personalization: true, advertising: false }, sources: { advertising: "explicit" } });
    expect(await cohortCookie()).toBeUndefined();

    // The site's server, which reads ajs_anonymous_id, sends its own event for the same visitor.
    await serverTrack(anonymousId, "Order Shipped");
    const both = await eventually(byAnonymousId(anonymousId), hasTrack("Order Shipped"), "the server's event");
    expect(both!.key).toBe(profile!.key);
  });

  it("identifies with the userHash from the site's server (a source middleware): the browser's profile merges into the user's", async () => {
    await openPage("/sdk/segment", { consent });
    const userId = `ajs-user-${Date.now()}`;
    await page.evaluate(() => window.ajs.page());
    await page.evaluate(() => window.ajs.track("Browsed Anonymously"));
    const anonymousId = await ajsAnonymousId();
    await eventually(byAnonymousId(anonymousId), hasTrack("Browsed Anonymously"), "the anonymous events");

    // README "Segment analytics.js": every call of a signed-in visitor carries the userHash.
    await page.evaluate(
      (userHash) =>
        window.ajs.addSourceMiddleware(({ payload, next }) => {
          if (payload.obj.userId) payload.obj.context = { ...payload.obj.context, identity: { userHash } };
          next(payload);
        }),
      userHashFor(userId),
    );
    await page.evaluate((id) => window.ajs.identify(id, { plan: "pro", email: "ajs@example.com" }), userId);
    await page.evaluate(() => window.ajs.track("Order Completed", { total: 42 }));

    const user = await eventually(() => lookup({ userId }), (p) => hasTrack("Order Completed")(p) && p?.traits.plan === "pro", "the identified events");
    expect(user!.traits).toMatchObject({ plan: "pro", email: "ajs@example.com" });
    expect(trackNames(user)).toEqual(expect.arrayContaining(["Browsed Anonymously", "Order Completed"]));
    expect(user!.counters).toMatchObject({ "type:page": 1, "type:identify": 1 });
    expect((await lookup({ anonymousId }))!.key).toBe(`e2e:user:${userId}`);
  });

  it("retries a request whose answer was lost, and the event lands once", async () => {
    await openPage("/sdk/segment", { consent, cohort: e2e().proxyUrl });
    // A first track while Cohort answers: Chromium caches the CORS preflight of /v1/t, so the
    // lost answer below is the track's own, not its preflight's.
    await page.evaluate(() => window.ajs.track("Warmed Up"));
    const anonymousId = await ajsAnonymousId();
    await eventually(byAnonymousId(anonymousId), (p) => count("event:Warmed Up")(p) === 1, "the first track");

    // Cohort receives and applies the track, but analytics.js never sees the answer.
    await setProxy("lost");
    void page.evaluate(() => window.ajs.track("Retried Purchase"));
    await eventually(proxyStats, (s) => s.failed >= 1, "the lost request");
    await eventually(byAnonymousId(anonymousId), hasTrack("Retried Purchase"), "the applied track");
    await setProxy("up");
    await eventually(proxyStats, (s) => s.forwarded >= 1, "analytics.js's retry", 30_000);

    const profile = await lookup({ anonymousId });
    expect(profile!.counters["event:Retried Purchase"]).toBe(1);
    expect(trackNames(profile).filter((name) => name === "Retried Purchase")).toHaveLength(1);
  });
});

describe("RudderStack's JS SDK v3", () => {
  it("loads its sourceConfig from Cohort; page, track and identify land on the profile its anonymousId names, with its consent ids", async () => {
    await openPage("/sdk/rudder", { allowed: "analytics,personalization", denied: "advertising" });
    await page.evaluate(() => new Promise<void>((resolve) => window.ra.ready(resolve)));
    expect(requests.some((r) => r.startsWith("200 GET /sourceConfig/"))).toBe(true);
    await page.evaluate(() => window.ra.page());
    await page.evaluate(() => window.ra.track("Product Viewed", { sku: "sku-2" }));
    const anonymousId = await page.evaluate(() => window.ra.getAnonymousId());

    const profile = await eventually(byAnonymousId(anonymousId), hasTrack("Product Viewed"), "RudderStack's events");
    expect(profile!.key).toBe(`e2e:anon:${anonymousId}`);
    expect(profile!.counters).toMatchObject({ "type:page": 1, "event:Product Viewed": 1 });
    expect(profile!.consent).toMatchObject({ purposes: { analytics: true, personalization: true, advertising: false }, sources: { analytics: "explicit", advertising: "explicit" } });
    expect(await cohortCookie()).toBeUndefined();

    await serverTrack(anonymousId, "Refund Issued");
    await eventually(byAnonymousId(anonymousId), hasTrack("Refund Issued"), "the server's event");

    // Identified with the userHash in each call's options.
    const userId = `rs-user-${Date.now()}`;
    const options = { context: { identity: { userHash: userHashFor(userId) } } };
    await page.evaluate(([id, o]) => window.ra.identify(id, { plan: "team" }, o), [userId, options] as const);
    await page.evaluate((o) => window.ra.track("Order Completed", { total: 7 }, o), options);
    // The SDK sends each call on its own request, so the two may arrive in either order.
    const user = await eventually(() => lookup({ userId }), (p) => hasTrack("Order Completed")(p) && p?.traits.plan === "team", "the identified events");
    expect(trackNames(user)).toEqual(expect.arrayContaining(["Product Viewed", "Refund Issued", "Order Completed"]));
  });

  it("sends with useBeacon (sendBeacon batches to /beacon/v1/batch), and they land on the same kind of profile", async () => {
    await openPage("/sdk/rudder", { allowed: "analytics,personalization", denied: "advertising", beacon: "1" });
    await page.evaluate(() => new Promise<void>((resolve) => window.ra.ready(resolve)));
    await page.evaluate(() => window.ra.track("Beaconed", { n: 1 }));
    const anonymousId = await page.evaluate(() => window.ra.getAnonymousId());
    const profile = await eventually(byAnonymousId(anonymousId), hasTrack("Beaconed"), "the beaconed event");
    expect(requests.some((r) => r.includes("POST /beacon/v1/batch"))).toBe(true);
    expect(profile!.key).toBe(`e2e:anon:${anonymousId}`);
    expect(profile!.consent).toMatchObject({ purposes: { advertising: false }, sources: { advertising: "explicit" } });
  });
});
