// Personalisation as a visitor sees it: the tag fills slots in the browser; the edge route sends
// the page already filled (no flicker: the first paint is the variant); visitor data is inert;
// an origin error or a non-HTML answer passes through as the origin sent it.
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { e2e, eventually, hasTrack, launchChromium, lookup, newVisitorContext, visitorId } from "./helpers";

let browser: Browser;
let context: BrowserContext;
let page: Page;
let pageErrors: Error[];

async function admin(path: string, body: unknown) {
  const { url, adminToken } = e2e();
  const res = await fetch(`${url}/admin/api/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string };
}

beforeAll(async () => {
  browser = await launchChromium();
  const segment = await admin("segments", { name: "Shoe viewers", rule: { event: "Product Viewed", where: [{ property: "category", op: "eq", value: "shoes" }] } });
  await admin("experiences", {
    name: "Shoes hero",
    slot: "hero",
    status: "live",
    audience: { segment: segment.id },
    variants: [{ id: "a", weight: 1, content: { text: "Shoes for you, {{trait.name|friend}}" } }],
  });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await context?.close();
});

async function visit(url: string) {
  page = await context.newPage();
  pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(error));
  const response = await page.goto(url);
  return response!;
}

/** A fresh visitor who views shoes (on the customer's own page, with the tag) and so enters the segment. */
async function shoeViewer(traits?: Record<string, unknown>) {
  context = await newVisitorContext(browser);
  const { url, customerUrl } = e2e();
  await visit(`${customerUrl}/shop/slots?tag=${encodeURIComponent(url)}`);
  await page.waitForFunction(() => (window as unknown as { cohort: { v?: string } }).cohort.v);
  if (traits) await page.evaluate((t) => (window as unknown as { cohort: (...a: unknown[]) => void }).cohort("identify", `u-${Math.random()}`, t), traits);
  await page.click("#view");
  // The track reaches the profile (and the segment) once the tag has sent it: wait for the profile
  // to hold it (and the traits), not for a time.
  await eventually(
    async () => (await context.cookies(url)).some((c) => c.name === "cohort_id"),
    Boolean,
    "the visitor cookie",
  );
  const id = await visitorId(context);
  await eventually(
    () => lookup({ anonymousId: id }),
    (profile) => hasTrack("Product Viewed")(profile) && Object.keys(traits ?? {}).every((name) => Object.hasOwn(profile!.traits, name)),
    "the shoe view (and traits) in the profile",
  );
}

describe("the tag", () => {
  it("fills a slot from the decision and lifts the anti-flicker class", async () => {
    await shoeViewer();
    const { url, customerUrl } = e2e();
    await visit(`${customerUrl}/shop/slots?tag=${encodeURIComponent(url)}`);
    await eventually(() => page.textContent("#hero"), (text) => text === "Shoes for you, friend", "the personalised hero");
    expect(await page.getAttribute("#hero", "class")).not.toContain("cohort-hide");
    expect(pageErrors).toEqual([]);
  });
});

describe("the edge route", () => {
  it("sends the page already personalised: the first paint shows the variant", async () => {
    await shoeViewer();
    const response = await visit(`${e2e().url}/shop/slots`);
    const html = await response.text();
    // The HTML as it left the edge, before any script ran.
    expect(html).toMatch(/<h1 id="hero"[^>]*>Shoes for you, friend<\/h1>/);
    expect(html).toContain('src="/t.js"');
    expect(response.headers()["cache-control"]).toContain("private");
    expect(response.headers()["vary"]?.toLowerCase()).toContain("cookie");
    expect(await page.textContent("#hero")).toBe("Shoes for you, friend");
    expect(pageErrors).toEqual([]);
  });

  it("renders a trait holding <script> as inert text", async () => {
    await shoeViewer({ name: '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>' });
    const response = await visit(`${e2e().url}/shop/slots`);
    const html = await response.text();
    expect(html).not.toContain("<script>window.__pwned");
    expect(await page.textContent("#hero")).toBe('Shoes for you, <img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>');
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
  });

  it("leaves a visitor outside every audience with the origin's content", async () => {
    context = await newVisitorContext(browser);
    const html = await (await visit(`${e2e().url}/shop/slots`)).text();
    expect(html).toMatch(/<h1 id="hero"[^>]*>Welcome to the shop<\/h1>/);
  });

  it("passes an origin error and a non-HTML answer through unchanged", async () => {
    const { url, customerUrl } = e2e();
    const broken = await fetch(`${url}/shop/broken`);
    const direct = await fetch(`${customerUrl}/shop/broken`);
    expect(broken.status).toBe(500);
    expect(await broken.text()).toBe(await direct.text());
    const json = await fetch(`${url}/shop/data.json`);
    expect(json.headers.get("content-type")).toBe("application/json");
    expect(await json.text()).toBe(await (await fetch(`${customerUrl}/shop/data.json`)).text());
  });
});
