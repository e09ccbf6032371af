// The demo shop as a newcomer first sees it, in Chromium, on the demo workspace seeded as
// `npm start` seeds it ("Shoe fans" = two shoe views in 7 days; the hero experience targets it):
// the panel names segments, never shows a 1970 date, and says when it takes the browser for a bot;
// the hero follows consent and sign-in without a reload, and its change moves nothing below it.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { e2e, launchChromium, newVisitorContext } from "./helpers";

const PERSONALISED = (name: string) => `Back for the Trail Runner, ${name}? Shoes ship free this week.`;

let browser: Browser;
let context: BrowserContext | undefined;
let page: Page;
let pageErrors: Error[];

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await context?.close();
  context = undefined;
});

/** A fresh visitor on the demo page, once the tag has loaded; marks the window to spot a reload. */
async function openDemo(on: Browser = browser) {
  context = await newVisitorContext(on);
  page = await context.newPage();
  pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error));
  await page.goto(`${e2e().demo.url}/`);
  await page.waitForFunction(() => (window as unknown as { cohort: { v?: string } }).cohort.v);
  await page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));
}

const hero = () => page.locator("#hero-slot").evaluate((el) => el.textContent);
// The default line, from its invisible copy (which keeps the slot's height).
const heroDefault = () => page.locator("#hero-default").evaluate((el) => el.textContent);
const notReloaded = () => page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce === true);

async function heroBecomes(text: string) {
  await page.waitForFunction((t) => document.getElementById("hero-slot")!.textContent === t, text, { timeout: 15_000 });
}

/** Views the Trail Runner twice: the visitor enters "Shoe fans" and the hero is personalised. */
async function becomeShoeFan(name = "friend") {
  const view = page.locator('[data-id="sku-trail"] [data-action="view"]');
  await view.click();
  await view.click();
  await heroBecomes(PERSONALISED(name));
}

describe("the demo's profile panel", () => {
  it("shows the names of the visitor's segments, not their ids", async () => {
    await openDemo();
    await becomeShoeFan();
    const segments = page.locator("#profile-segments");
    await segments.getByText("Shoe fans", { exact: true }).waitFor({ timeout: 15_000 });
    expect(await segments.innerText()).not.toContain("seg_demo_shoes");
    expect(pageErrors).toEqual([]);
  });

  it("shows no 1970 date for a profile that has only given consent", async () => {
    await openDemo();
    await page.locator("#profile-status").getByText("anonymous").waitFor({ timeout: 15_000 });
    // Refusing erases the profile; accepting again makes one that holds nothing but the choice.
    await page.click("#consent-refuse");
    await page.locator("#profile-status").getByText("no profile yet").waitFor({ timeout: 15_000 });
    await page.click("#consent-accept");
    await page.locator("#profile-consent").getByText("granted (explicit)").first().waitFor({ timeout: 15_000 });
    const seen = await page.locator("#profile-seen").innerText();
    expect(seen).not.toMatch(/1970|Invalid Date/);
    expect(seen).not.toBe("");
    expect(pageErrors).toEqual([]);
  });

  it.each([
    ["null", { firstSeen: null, lastSeen: null }],
    ["missing", {}],
  ])("says nothing of first and last seen when they are %s", async (_what, seen) => {
    await openDemo();
    const { demo } = e2e();
    // The profile view the lead is moving to: firstSeen and lastSeen null when unknown.
    await page.route(`${demo.url}/v1/me?**`, (route) =>
      route.fulfill({
        contentType: "application/json",
        body: JSON.stringify({
          profile: { key: "demo:anon:x", identities: [{ kind: "anonymousId", value: "x" }], traits: {}, counters: {}, segments: [], recentEvents: [], consent: null, ...seen },
          bot: false,
          segmentNames: {},
        }),
      }),
    );
    await page.locator("#profile-identities").getByText("anonymousId: x").waitFor({ timeout: 15_000 });
    expect(await page.locator("#profile-seen").innerText()).toBe("No event yet: only a consent choice.");
    expect(pageErrors).toEqual([]);
  });

  it("tells a headless browser that Cohort treats it as a bot (counted, not profiled), not that it is cookieless", async () => {
    const headless = await launchChromium({ visitor: false });
    try {
      await openDemo(headless);
      expect(await page.evaluate(() => navigator.userAgent)).toContain("HeadlessChrome");
      await page.locator("#profile-status").getByText("treated as a bot").waitFor({ timeout: 15_000 });
      const consent = await page.locator("#profile-consent").innerText();
      expect(consent).toContain("counted, never profiled");
      expect(consent).not.toContain("cookieless");
      expect(pageErrors).toEqual([]);
    } finally {
      await context?.close();
      context = undefined;
      await headless.close();
    }
  });
});

describe("the demo's hero", () => {
  it("falls back to its default line as soon as the visitor chooses 'Only necessary', without a reload", async () => {
    await openDemo();
    const original = await heroDefault();
    expect(await hero()).toBe(original);
    await becomeShoeFan();
    await page.click("#consent-refuse");
    await heroBecomes(original!);
    expect(await notReloaded()).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it("greets the visitor by the name they sign in with, without a reload", async () => {
    await openDemo();
    await becomeShoeFan();
    await page.fill("#signin-email", "grace@example.com");
    await page.fill("#signin-name", "Grace");
    await page.click("#signin-submit");
    await heroBecomes(PERSONALISED("Grace"));
    expect(await notReloaded()).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it("keeps its height when personalised, so nothing below it moves under the pointer", async () => {
    await openDemo();
    const view = page.locator('[data-id="sku-trail"] [data-action="view"]');
    const where = () => view.evaluate((el) => el.getBoundingClientRect().top + window.scrollY);
    const before = await where();
    const heroHeight = () => page.locator(".hero").evaluate((el) => el.getBoundingClientRect().height);
    const heightBefore = await heroHeight();
    await becomeShoeFan();
    expect(await hero()).not.toBe(await heroDefault());
    expect(await where()).toBe(before);
    expect(await heroHeight()).toBe(heightBefore);
    expect(pageErrors).toEqual([]);
  });
});
