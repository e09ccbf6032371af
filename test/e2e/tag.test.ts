// The tag in a real browser (Debian's Chromium) against a real `wrangler dev`: what a site owner
// and a visitor would observe — events on the profile, the cookie, page exits, outages.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  customerPage,
  e2e,
  eventually,
  hasTrack,
  launchChromium,
  lookup,
  newVisitorContext,
  proxyStats,
  setProxy,
  trackNames,
  userHashFor,
  visitorId,
  type Profile,
} from "./helpers";

let browser: Browser;
let context: BrowserContext;
let page: Page;
let pageErrors: Error[];
let debugLog: string[];
/** Console lines and network answers of the page, printed when a test fails. */
let browserLog: string[];

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

async function openPage(url: string) {
  context = await newVisitorContext(browser);
  page = await context.newPage();
  pageErrors = [];
  debugLog = [];
  browserLog = [];
  page.on("pageerror", (error) => pageErrors.push(error));
  page.on("console", (message) => {
    if (message.type() === "debug") debugLog.push(message.text());
    browserLog.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on("requestfailed", (request) => browserLog.push(`failed ${request.method()} ${request.url()}: ${request.failure()?.errorText}`));
  page.on("response", async (response) => {
    const request = response.request();
    let line = `${response.status()} ${request.method()} ${request.url()}`;
    if (request.url().includes("/v1/")) {
      const cookie = await response.headerValue("set-cookie").catch(() => null);
      line += ` set-cookie=${cookie ?? "-"} body=${(await response.text().catch(() => "")).slice(0, 300)}`;
    }
    browserLog.push(line);
  });
  await page.goto(url);
  return page;
}

afterEach(async ({ task }) => {
  if (task.result?.state === "fail") console.log(`browser log of "${task.name}":\n  ${browserLog.join("\n  ")}`);
  await setProxy("up");
  await context?.close();
});

const byVisitor = async (): Promise<Profile | null> => lookup({ anonymousId: await visitorId(context) });
const cohort = (...args: unknown[]) =>
  page.evaluate((call) => (window as unknown as { cohort: (...a: unknown[]) => void }).cohort(...call), args);

describe("the tag on a customer's page", () => {
  it("sends the page view on load and a track, both on the visitor's profile", async () => {
    await openPage(customerPage());
    const id = await visitorId(context);
    await eventually(() => lookup({ anonymousId: id }), (p) => (p?.counters["type:page"] ?? 0) >= 1, "the page view");

    await cohort("track", "Product Viewed", { sku: "sku-1", price: 42 });
    const profile = await eventually(() => lookup({ anonymousId: id }), hasTrack("Product Viewed"), "the track");

    expect(profile!.identities).toContainEqual({ kind: "anonymousId", value: id });
    expect(profile!.counters).toMatchObject({ "type:page": 1, "type:track": 1, "event:Product Viewed": 1 });
    const track = profile!.recentEvents.find((e) => e.event === "Product Viewed")!;
    expect(track.properties).toMatchObject({ sku: "sku-1", price: 42 });
    expect(pageErrors).toEqual([]);
  });

  it("is identified by an HttpOnly cookie the server sets, which page scripts cannot read", async () => {
    await openPage(customerPage());
    await visitorId(context);
    const [cookie] = (await context.cookies(e2e().url)).filter((c) => c.name === "cohort_id");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
    expect(cookie!.value).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/);
    expect(await page.evaluate(() => document.cookie)).not.toContain("cohort_id");
  });

  it("keeps the same visitor across page loads", async () => {
    await openPage(customerPage());
    const id = await visitorId(context);
    await eventually(() => lookup({ anonymousId: id }), (p) => p?.counters["type:page"] === 1, "the first page view");
    await page.goto(customerPage());
    await eventually(() => lookup({ anonymousId: id }), (p) => p?.counters["type:page"] === 2, "the second page view");
    expect(await visitorId(context)).toBe(id);
  });

  it("replays calls queued by the stub before it loaded, in order, and identify attaches the userId", async () => {
    const userId = `queued-${Date.now()}`;
    await openPage(
      customerPage({ pre: [["identify", userId, { plan: "pro", email: "ada@example.com" }, { userHash: userHashFor(userId) }], ["track", "Queued Before Load"]] }),
    );
    const profile = await eventually(() => lookup({ userId }), hasTrack("Queued Before Load"), "the queued calls");
    expect(profile!.traits).toMatchObject({ plan: "pro", email: "ada@example.com" });

    await cohort("track", "After Identify");
    await eventually(() => lookup({ userId }), hasTrack("After Identify"), "a later track on the user");
  });

  it("puts every event of a first visit on one profile, even more than one batch's worth", async () => {
    const calls = Array.from({ length: 30 }, (_, i) => ["track", "Burst", { i }]);
    await openPage(customerPage({ pre: calls }));
    const id = await visitorId(context);
    // 31 events leave in two batches; the second waits for the first answer and its cookie.
    const profile = await eventually(() => lookup({ anonymousId: id }), (p) => p?.counters["total"] === 31, "all 31 events");
    expect(profile!.counters).toMatchObject({ "type:page": 1, "event:Burst": 30 });
    expect(profile!.identities.filter((i) => i.kind === "anonymousId")).toEqual([{ kind: "anonymousId", value: id }]);
  });

  it("does not send a page view with data-auto-page=false, and ignores unknown commands with a reason", async () => {
    await openPage(customerPage({ auto: false }));
    await cohort("consent", "yes please");
    await page.evaluate(() => (window as unknown as { cohort: (...a: unknown[]) => void }).cohort("teleport", ["hero"], () => {}));
    await cohort("track"); // no name
    await cohort("track", "Only Event");
    const id = await visitorId(context);
    const profile = await eventually(() => lookup({ anonymousId: id }), hasTrack("Only Event"), "the track");
    expect(profile!.counters["type:page"] ?? 0).toBe(0);
    expect(profile!.recentEvents).toHaveLength(1);
    expect(debugLog.join("\n")).toMatch(/ignored: consent needs \{analytics, personalization, advertising\}/);
    expect(debugLog.join("\n")).toMatch(/ignored: unknown command teleport/);
    expect(pageErrors).toEqual([]);
  });

  it("flushes a track queued just before the visitor navigates away (pagehide)", async () => {
    await openPage(customerPage());
    const id = await visitorId(context);
    await eventually(() => lookup({ anonymousId: id }), (p) => (p?.counters["type:page"] ?? 0) >= 1, "the page view");

    // The batch timer (~250 ms) has no chance to fire: the page is gone at once.
    await page.evaluate(() => {
      (window as unknown as { cohort: (...a: unknown[]) => void }).cohort("track", "Left The Page", { via: "pagehide" });
      document.getElementById("next")!.click();
    });
    await page.waitForSelector("#arrived");
    const profile = await eventually(() => lookup({ anonymousId: id }), hasTrack("Left The Page"), "the track sent on pagehide");
    expect(profile!.recentEvents.find((e) => e.event === "Left The Page")!.properties).toEqual({ via: "pagehide" });
  });

  it.each(["503", "destroy", "lost"] as const)("retries events sent while Cohort is down (%s) and they arrive once", async (mode) => {
    const { proxyUrl } = e2e();
    await openPage(customerPage({ cohort: proxyUrl }));
    const id = await visitorId(context);
    await eventually(() => lookup({ anonymousId: id }), (p) => (p?.counters["type:page"] ?? 0) >= 1, "the page view");

    await setProxy(mode);
    const name = `During Outage ${mode}`;
    await cohort("track", name);
    await eventually(proxyStats, (s) => s.failed >= 1, "a failed send through the proxy");
    // With "lost", Cohort has the event already; otherwise it has not seen it yet.
    if (mode !== "lost") expect(trackNames(await lookup({ anonymousId: id }))).not.toContain(name);

    await setProxy("up");
    await eventually(proxyStats, (s) => s.forwarded >= 1, "the retry reaching Cohort");
    await eventually(() => lookup({ anonymousId: id }), hasTrack(name), "the retried event");

    // A later event has arrived too, so any duplicate of the retried one would have by now.
    await cohort("track", "After Outage");
    const profile = await eventually(() => lookup({ anonymousId: id }), hasTrack("After Outage"), "the next event");
    expect(trackNames(profile).filter((n) => n === name)).toHaveLength(1);
    expect(profile!.counters[`event:${name}`]).toBe(1);
    expect(pageErrors).toEqual([]);
  });

  it.each(["500", "destroy"] as const)("never throws into the page when Cohort answers %s", async (mode) => {
    const { proxyUrl } = e2e();
    await setProxy(mode);
    await openPage(customerPage({ cohort: proxyUrl, pre: [["track", "Queued"], ["identify", "u-err", { a: 1 }]] }));
    await page.waitForFunction(() => (window as unknown as { cohort: { v?: string } }).cohort.v);
    await cohort("track", "While Failing", { n: 1 });
    await cohort("page", "Failing Page");
    await cohort("identify");
    await cohort("whatever", 1, 2, 3);
    await page.click("#buy");
    // The tag has tried, failed and scheduled a retry at least twice (after 1 s and 2 s).
    await eventually(proxyStats, (s) => s.failed >= 2, "two failed sends", 20_000);
    expect(await page.evaluate(() => typeof (window as unknown as { cohort: unknown }).cohort)).toBe("function");
    expect(pageErrors).toEqual([]);
  });
});

describe("the demo page", () => {
  it("loads at / with the tag and its panel shows the visitor's events after clicks", async () => {
    await openPage(`${e2e().url}/`);
    await page.waitForFunction(() => (window as unknown as { cohort: { v?: string } }).cohort.v);
    await page.locator("[data-action=view]").first().click();
    await page.locator("[data-action=add]").first().click();
    const events = page.locator("#profile-events");
    await events.getByText("Product Viewed").first().waitFor({ timeout: 15_000 });
    await events.getByText("Product Added").first().waitFor({ timeout: 15_000 });

    await page.fill("#signin-email", "ada@example.com");
    await page.fill("#signin-name", "Ada Lovelace");
    await page.click("#signin-submit");
    await page.locator("#profile-traits").getByText("ada@example.com").waitFor({ timeout: 15_000 });
    expect(pageErrors).toEqual([]);
  });
});
