// Consent in a real browser (Debian's Chromium) against a real `wrangler dev`: what a visitor's
// browser holds and what the site owner's profile look-up shows as the visitor grants, refuses,
// or arrives with a CMP's TC string or Global Privacy Control.
import { GVL, TCModel, TCString } from "@iabtechlabtcf/core";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSite, customerPage, e2e, eventually, hasTrack, launchChromium, lookup, newVisitorContext, visitorId } from "./helpers";

let browser: Browser;
let context: BrowserContext;
let page: Page;
let pageErrors: Error[];
/** Answers of the page's /v1 requests, in order: `"200 /v1/batch"`. */
let answers: string[];
let browserLog: string[];
/** A site whose defaults refuse every purpose: visitors are cookieless until they consent. */
let optIn: { writeKey: string };

beforeAll(async () => {
  browser = await launchChromium();
  optIn = await createSite({
    name: "E2E opt-in shop",
    consentDefaults: { analytics: false, personalization: false, advertising: false },
  });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async ({ task }) => {
  if (task.result?.state === "fail") console.log(`browser log of "${task.name}":\n  ${browserLog.join("\n  ")}`);
  await context?.close();
});

async function openPage(url: string, options: { gpc?: boolean; consentMode?: Record<string, string> } = {}) {
  context = await newVisitorContext(browser);
  // Google's gtag snippet with Consent Mode defaults, as a page sets them before any tag loads.
  if (options.consentMode) {
    await context.addInitScript((defaults) => {
      const w = window as unknown as { dataLayer: unknown[]; gtag: (...args: unknown[]) => void };
      w.dataLayer = w.dataLayer || [];
      w.gtag = function () {
        // eslint-disable-next-line prefer-rest-params
        w.dataLayer.push(arguments);
      };
      w.gtag("consent", "default", defaults);
    }, options.consentMode);
  }
  // Global Privacy Control, as a browser with it switched on exposes it to scripts.
  if (options.gpc) await context.addInitScript(() => Object.defineProperty(Navigator.prototype, "globalPrivacyControl", { get: () => true }));
  page = await context.newPage();
  pageErrors = [];
  answers = [];
  browserLog = [];
  page.on("pageerror", (error) => pageErrors.push(error));
  page.on("console", (message) => browserLog.push(`console.${message.type()}: ${message.text()}`));
  page.on("response", async (response) => {
    const request = response.request();
    const path = new URL(request.url()).pathname;
    if (path.startsWith("/v1/")) answers.push(`${response.status()} ${path}`);
    const cookie = await response.headerValue("set-cookie").catch(() => null);
    browserLog.push(`${response.status()} ${request.method()} ${request.url()} set-cookie=${cookie ?? "-"} body=${request.postData()?.slice(0, 300) ?? ""}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { cohort: { v?: string } }).cohort.v);
}

const cohort = (...args: unknown[]) =>
  page.evaluate((call) => (window as unknown as { cohort: (...a: unknown[]) => void }).cohort(...call), args);
const cohortId = async () => (await context.cookies(e2e().url)).find((c) => c.name === "cohort_id");
/** Waits until the page has had `count` answers of 200 from `path`. */
const answered = (path: string, count = 1) =>
  eventually(async () => answers.filter((a) => a === `200 ${path}`).length, (n) => n >= count, `${count} × 200 from ${path}`);

/** Grants analytics and personalisation explicitly and waits for the cookie; returns the visitor id. */
async function grant() {
  await cohort("consent", { analytics: true, personalization: true });
  await answered("/v1/consent");
  return visitorId(context);
}

/**
 * A real TCF v2.2 TC string, encoded by the IAB's library, whose publisher segment consents to
 * `purposes`. The vendor list is a minimal one written here: the encoder needs its version and
 * purposes, and Cohort reads only the publisher's purpose consents.
 */
function tcString(purposes: number[]) {
  const entries = Array.from({ length: 11 }, (_, i) => [i + 1, { id: i + 1, name: `Purpose ${i + 1}`, description: "", illustrations: [] }]);
  const gvl = new GVL({
    gvlSpecificationVersion: 3,
    vendorListVersion: 1,
    tcfPolicyVersion: 5,
    lastUpdated: "2026-01-01T00:00:00Z",
    purposes: Object.fromEntries(entries),
    specialPurposes: {},
    features: {},
    specialFeatures: {},
    vendors: {},
    stacks: {},
    dataCategories: {},
  });
  const model = new TCModel(gvl);
  model.cmpId = 10;
  model.cmpVersion = 1;
  model.isServiceSpecific = true;
  model.publisherConsents.set(purposes);
  return TCString.encode(model);
}

describe("consent in the browser", () => {
  it("sets no cookie before consent on an opt-in site, while its events are still accepted", async () => {
    await openPage(customerPage({ key: optIn.writeKey }));
    await answered("/v1/batch"); // the page view
    expect(await cohortId()).toBeUndefined();

    await cohort("track", "Cookieless Track");
    await answered("/v1/batch", 2);
    expect(await cohortId()).toBeUndefined();
    expect(pageErrors).toEqual([]);
  });

  it("sets the HttpOnly cookie on an explicit grant; later events reach the profile, which shows the choice", async () => {
    await openPage(customerPage({ key: optIn.writeKey }));
    await answered("/v1/batch");
    const id = await grant();
    expect(await cohortId()).toMatchObject({ httpOnly: true, sameSite: "Lax", path: "/" });
    expect(await page.evaluate(() => document.cookie)).not.toContain("cohort_id");

    await cohort("track", "After Consent");
    const profile = await eventually(() => lookup({ anonymousId: id }), hasTrack("After Consent"), "the track after consent");
    expect(profile!.consent).toMatchObject({
      purposes: { necessary: true, analytics: true, personalization: true },
      sources: { analytics: "explicit", personalization: "explicit" },
    });
    expect(pageErrors).toEqual([]);
  });

  it("a refusal of analytics and personalisation clears the cookie and the profile", async () => {
    await openPage(customerPage({ key: optIn.writeKey }));
    const id = await grant();
    await cohort("track", "Before Revocation");
    await eventually(() => lookup({ anonymousId: id }), hasTrack("Before Revocation"), "the profile");

    await cohort("consent", { analytics: false, personalization: false });
    await answered("/v1/consent", 2);
    await eventually(cohortId, (c) => c === undefined, "the cookie to be cleared");
    await eventually(() => lookup({ anonymousId: id }), (p) => p === null, "the profile lookup to answer 404");

    // The visitor carries on browsing: accepted, still no cookie, no profile comes back.
    await cohort("track", "After Revocation");
    await answered("/v1/batch", 3);
    expect(await cohortId()).toBeUndefined();
    expect(await lookup({ anonymousId: id })).toBeNull();
    expect(pageErrors).toEqual([]);
  });

  it("a CMP's TC string (__tcfapi) that consents is enough on an opt-in site: no explicit choice needed", async () => {
    // Publisher consents: storage (1), measurement (8, 9), content profile (5, 6); no advertising (3, 4).
    await openPage(customerPage({ key: optIn.writeKey, tcf: tcString([1, 5, 6, 8, 9]) }));
    await answered("/v1/consent");
    const id = await visitorId(context);

    await cohort("track", "With TCF");
    const profile = await eventually(() => lookup({ anonymousId: id }), hasTrack("With TCF"), "the track with a TC string");
    expect(profile!.consent).toMatchObject({
      purposes: { analytics: true, personalization: true, advertising: false },
      sources: { analytics: "tcf", personalization: "tcf" },
    });
    expect(pageErrors).toEqual([]);
  });

  it("Global Privacy Control turns advertising off on a default-open site; analytics stays on", async () => {
    await openPage(customerPage(), { gpc: true });
    expect(await page.evaluate(() => navigator.globalPrivacyControl)).toBe(true);
    const id = await visitorId(context);

    await cohort("track", "With GPC");
    const profile = await eventually(() => lookup({ anonymousId: id }), hasTrack("With GPC"), "the track with GPC");
    expect(profile!.consent).toMatchObject({ purposes: { analytics: true, advertising: false }, sources: { advertising: "gpc" } });
    expect(pageErrors).toEqual([]);
  });
});

describe("Google Consent Mode on the page", () => {
  it("its defaults refuse, so no cookie; the CMP's gtag consent update grants analytics, and the next event makes the profile", async () => {
    const denied = { ad_storage: "denied", analytics_storage: "denied", ad_user_data: "denied", ad_personalization: "denied" };
    await openPage(customerPage({ key: optIn.writeKey }), { consentMode: denied });
    await answered("/v1/batch");
    expect(await cohortId()).toBeUndefined();

    await page.evaluate(() => (window as unknown as { gtag: (...args: unknown[]) => void }).gtag("consent", "update", { analytics_storage: "granted", ad_user_data: "granted" }));
    await cohort("track", "With Consent Mode");
    const id = await visitorId(context);
    const profile = await eventually(() => lookup({ anonymousId: id }), hasTrack("With Consent Mode"), "the track under Consent Mode");
    expect(profile!.consent).toMatchObject({
      purposes: { analytics: true, personalization: false, advertising: false },
      sources: { analytics: "consentMode", advertising: "consentMode" },
    });
    expect(pageErrors).toEqual([]);
  });
});

describe("the demo page's privacy choices", () => {
  it("'Only necessary' clears the cookie and the panel's profile; 'Accept all' brings a profile back with explicit consent", async () => {
    await openPage(`${e2e().url}/`);
    await page.locator("#profile-status").getByText("anonymous").waitFor({ timeout: 15_000 });
    await page.click("#consent-refuse");
    await eventually(cohortId, (c) => c === undefined, "the cookie to be cleared");
    await page.locator("#profile-status").getByText("no profile yet").waitFor({ timeout: 15_000 });

    await page.click("#consent-accept");
    await visitorId(context);
    await page.locator("#profile-consent").getByText("granted (explicit)").first().waitFor({ timeout: 15_000 });
    expect(pageErrors).toEqual([]);
  });
});
