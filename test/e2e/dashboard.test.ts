// The dashboard in a real browser against `wrangler dev`: signing in by npm start's link and by a
// pasted token; every page opening without a console error, with nothing loaded from elsewhere;
// a segment made in the editor showing its size; an event the tag sends appearing in the live
// stream; a viewer offered no write action; no page scrolling sideways at 375 px. Each page's
// screenshot is saved in test/e2e/screenshots/ (git-ignored).
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signInLink } from "../../scripts/lib/token.mjs";
import { customerPage, e2e, eventually, launchChromium, newVisitorContext } from "./helpers";

const SHOTS = fileURLToPath(new URL("./screenshots/", import.meta.url));
/** Every page of the navigation, by its fragment and the heading it shows. */
const PAGES = [
  ["overview", "Overview"],
  ["events", "Live events"],
  ["failed", "Failed events"],
  ["profiles", "Profiles"],
  ["segments", "Segments"],
  ["experiences", "Experiences"],
  ["destinations", "Destinations"],
  ["reports", "Reports"],
  ["imports", "Imports"],
  ["predictions", "Predictions"],
  ["privacy", "Privacy"],
  ["sites", "Sites and keys"],
] as const;
/** Words of buttons and links that change something; a viewer must be offered none. */
const WRITE = /\b(new|create|save|delete|erase|rotate|replay|enable|upload|train|retrain|export)\b|^pause$/i;

let browser: Browser;
/** Detail pages made by the first page test (a destination, an experiment), opened by the later ones too. */
let details: (readonly [string, string])[] = [];
const run = Date.now().toString(36);

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
  // A few visitors on the e2e site, so pages and the segment preview have something to show.
  const { url, secretKey } = e2e();
  const batch = [1, 2, 3].flatMap((n) => [
    { type: "identify", userId: `dash-${run}-${n}`, traits: { email: `dash-${run}-${n}@example.com`, plan: n === 1 ? "pro" : "free" } },
    { type: "track", userId: `dash-${run}-${n}`, event: `Dash Viewed ${run}`, properties: { n } },
  ]);
  const res = await fetch(`${url}/v1/batch`, { method: "POST", headers: { authorization: `Basic ${btoa(`${secretKey}:`)}`, "content-type": "application/json" }, body: JSON.stringify({ batch }) });
  expect(res.status).toBe(200);
});
afterAll(async () => {
  await browser?.close();
});

interface Watched {
  context: BrowserContext;
  page: Page;
  errors: string[];
  origins: Set<string>;
}

/** A fresh browser tab that records console errors, page errors, failed responses and origins contacted. */
async function watchedPage(viewport = { width: 1280, height: 900 }): Promise<Watched> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  const origins = new Set<string>();
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => void (message.type() === "error" && errors.push(`console: ${message.text()}`)));
  page.on("response", (response) => void (response.status() >= 400 && errors.push(`${response.status()} ${response.url()}`)));
  page.on("request", (request) => void origins.add(new URL(request.url()).origin));
  return { context, page, errors, origins };
}

/** Signs in by the link npm start prints and picks the e2e site. */
async function signedIn(token = e2e().adminToken, viewport?: { width: number; height: number }): Promise<Watched> {
  const watched = await watchedPage(viewport);
  await watched.page.goto(signInLink(e2e().url, token));
  await watched.page.getByTestId("role").waitFor();
  await watched.page.evaluate((id) => sessionStorage.setItem("cohort.site", id), e2e().siteId);
  return watched;
}

/** A screenshot's file name for a page: `destinations-detail`, not the id of this run's destination. */
const shotName = (fragment: string) => fragment.replace(/\/[a-z]+_[0-9a-f]+/, "/detail").replaceAll("/", "-");

async function open(page: Page, fragment: string, heading: string) {
  await page.goto(`${e2e().url}/admin/#/${fragment}`);
  await page.locator("#page-title", { hasText: heading }).waitFor({ timeout: 15_000 });
  // Wait for the page's first calls to answer.
  await eventually(() => page.locator("[role=status]", { hasText: "Loading…" }).count(), (n) => n === 0, `${fragment} to load`);
}

describe("signing in to the dashboard", () => {
  it("takes the token from npm start's link, keeps it in sessionStorage and strips it from the address", async () => {
    const { url, adminToken } = e2e();
    const { context, page, errors } = await watchedPage();
    await page.goto(signInLink(url, adminToken));
    await expect.poll(() => page.getByTestId("role").textContent()).toBe("admin");
    expect(page.url()).toBe(`${url}/admin/#/`);
    expect(await page.evaluate(() => sessionStorage.getItem("cohort.tokens"))).toContain(adminToken);
    await page.locator("#page-title", { hasText: "Overview" }).waitFor();
    expect(errors).toEqual([]);
    await context.close();
  });

  it("accepts a pasted token, and says why when the paste is not a token", async () => {
    const { url, viewerToken } = e2e();
    const { context, page, errors } = await watchedPage();
    await page.goto(`${url}/admin`);
    const field = page.getByLabel("Admin token");
    await field.fill("not a token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("This is not a Cohort admin token").waitFor();
    await field.fill(viewerToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByTestId("role").textContent(), { timeout: 15_000 }).toBe("viewer");
    expect(await page.locator(".session").textContent()).toContain("e2e");
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe("the workspace switcher", () => {
  it("appears once tokens for two workspaces are signed in, and shows the chosen workspace's sites", async () => {
    const { url, demo } = e2e();
    const { context, page, errors } = await signedIn();
    expect(await page.getByLabel("Workspace").count()).toBe(0);
    await page.getByRole("button", { name: "Add workspace" }).click();
    await page.getByLabel("Admin token").fill(demo.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    const switcher = page.getByLabel("Workspace");
    await expect.poll(() => switcher.inputValue(), { timeout: 15_000 }).toBe("demo");
    await page.goto(`${url}/admin/#/sites`);
    await page.locator("h2", { hasText: "Demo shop" }).first().waitFor();
    await switcher.selectOption("e2e");
    await page.locator("h2", { hasText: "E2E shop" }).waitFor();
    expect(await page.locator("h2", { hasText: "Demo shop" }).count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  });
});

describe("the dashboard's pages", () => {
  it("each open without a console error, loading nothing from another origin", async () => {
    const { context, page, errors, origins } = await signedIn();
    // Detail pages too: a destination (to a local port nothing listens on) and an experiment with results.
    const admin = { authorization: `Bearer ${e2e().adminToken}`, "content-type": "application/json" };
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${e2e().url}/admin/api${path}`, { method: "POST", headers: admin, body: JSON.stringify(body) });
      expect(res.status, `POST ${path}`).toBe(201);
      return ((await res.json()) as { id: string }).id;
    };
    const destination = await post("/destinations", { name: `Dash hook ${run}`, type: "webhook", config: { url: "http://127.0.0.1:9/hook" }, enabled: false });
    const experience = await post("/experiences", { name: `Dash test ${run}`, slot: `dash-${run}`, status: "live", goal: { event: "Order Completed" }, variants: [{ id: "a", weight: 1, content: { text: "A" } }, { id: "b", weight: 1, content: { text: "B" } }] });
    details = [
      [`destinations/${destination}`, `Dash hook ${run}`],
      ["destinations/new", "New webhook destination"],
      [`experiences/${experience}`, `Dash test ${run}`],
      ["experiences/new", "New experience"],
      ["segments/new", "New segment"],
    ];
    for (const [fragment, heading] of [...PAGES, ...details]) {
      await open(page, fragment, heading);
      await page.screenshot({ path: `${SHOTS}${shotName(fragment)}.png`, fullPage: true });
      expect(errors, `on #/${fragment}`).toEqual([]);
    }
    expect([...origins]).toEqual([e2e().url]);
    await context.close();
  });

  it("do not scroll sideways at 375 px", async () => {
    const { context, page } = await signedIn(e2e().adminToken, { width: 375, height: 800 });
    for (const [fragment, heading] of [...PAGES, ...details]) {
      await open(page, fragment, heading);
      const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
      expect(scrollWidth, `#/${fragment} is ${scrollWidth}px wide`).toBeLessThanOrEqual(innerWidth);
      await page.screenshot({ path: `${SHOTS}${shotName(fragment)}-375.png`, fullPage: true });
    }
    await context.close();
  });
});

describe("the segment editor", () => {
  it("points at the line of a rule error, estimates the size as the rule is typed, and shows the saved segment's members", async () => {
    const { context, page, errors } = await signedIn();
    await open(page, "segments/new", "New segment");
    await page.getByLabel("Name", { exact: true }).fill(`Dash viewers ${run}`);
    const rule = page.getByLabel("Rule (JSON)");
    await rule.fill(JSON.stringify({ all: [{ event: `Dash Viewed ${run}` }, { trait: "plan", op: "equals", value: "pro" }] }, null, 2));
    // The API's 400 names rule.all.1.op: the message is put at that line of the text.
    await page.locator(".field-error", { hasText: /^Line 8: .*rule\.all\.1\.op/ }).waitFor({ timeout: 10_000 });
    expect(await page.locator(".gutter .bad").textContent()).toBe("8");

    await rule.fill(JSON.stringify({ event: `Dash Viewed ${run}` }, null, 2));
    await expect.poll(() => page.getByTestId("estimated-size").textContent(), { timeout: 10_000 }).toBe("3");
    await page.getByRole("button", { name: "Create segment" }).click();
    await page.locator("#page-title", { hasText: `Dash viewers ${run}` }).waitFor();
    // The backfill evaluates every profile through the queue; the page shows the members once it has.
    await eventually(
      async () => {
        await page.reload();
        return page.getByTestId("segment-size").textContent({ timeout: 10_000 });
      },
      (size) => size === "3",
      "the segment's size to reach 3",
      30_000,
    );
    await page.getByLabel("Id", { exact: true }).fill(`dash-${run}-2`);
    await page.getByRole("button", { name: "Explain" }).click();
    await page.getByText(`e2e:user:dash-${run}-2 is a member.`).waitFor();
    await page.screenshot({ path: `${SHOTS}segment-editor.png`, fullPage: true });
    // Its members, each a link to the profile, which lists the segment among its own.
    const members = page.getByRole("region", { name: "Members" });
    await expect.poll(() => members.locator("tbody tr").count()).toBe(3);
    await members.getByRole("link", { name: `dash-${run}-1` }).click();
    await page.locator("h2", { hasText: `Profile e2e:user:dash-${run}-1` }).waitFor();
    await page.locator(".card", { hasText: "Segments" }).getByRole("link", { name: `Dash viewers ${run}` }).waitFor();
    expect(await page.locator(".card", { hasText: "Traits" }).locator("pre").textContent()).toContain(`dash-${run}-1@example.com`);
    // The invalid rule's preview answered 400 (which Chromium also logs); nothing else failed.
    expect(errors.filter((e) => !/^400 .*\/segments\/preview$|status of 400/.test(e))).toEqual([]);
    await context.close();
  });
});

describe("the live events page", () => {
  it("shows an event the tag sends within seconds, with its JSON", async () => {
    const { context, page, errors } = await signedIn();
    await open(page, "events", "Live events");
    const name = `Dash Live ${run}`;
    const visitor = await newVisitorContext(browser);
    const shop = await visitor.newPage();
    await shop.goto(customerPage({ pre: [["track", name, { plan: "live" }]] }));
    const row = page.locator("tr", { hasText: name });
    await row.waitFor({ timeout: 20_000 });
    await row.getByRole("button", { name: "Show" }).click();
    expect(await row.locator("pre.json").textContent()).toContain(`"event": "${name}"`);
    // The consent it was collected under (the site grants every purpose by default).
    expect(await row.locator("td").nth(4).textContent()).toBe("analytics, personalization, advertising");
    await page.getByLabel("Name", { exact: true }).fill(name);
    await expect.poll(() => page.locator("tbody tr").count()).toBe(1);
    expect(errors).toEqual([]);
    await visitor.close();
    await context.close();
  });
});

describe("the profile page", () => {
  it("finds a visitor by email, exports their data as a file and erases them (admin)", async () => {
    const { url, secretKey, adminToken } = e2e();
    const userId = `dash-erase-${run}`;
    const res = await fetch(`${url}/v1/identify`, { method: "POST", headers: { authorization: `Basic ${btoa(`${secretKey}:`)}`, "content-type": "application/json" }, body: JSON.stringify({ userId, traits: { email: `${userId}@Example.com` } }) });
    expect(res.status).toBe(200);
    const { context, page, errors } = await signedIn();
    await open(page, "profiles", "Profiles");
    await page.getByLabel("Search by").selectOption("email");
    await page.getByLabel("Value").fill(`${userId}@example.com`);
    // The archive is written through the queue: search again until the identify call is in it.
    await eventually(
      async () => {
        await page.getByRole("button", { name: "Find" }).click();
        const profile = page.locator("h2", { hasText: `Profile e2e:user:${userId}` });
        await profile.or(page.getByText("No profile was identified with this email.")).waitFor();
        return profile.isVisible();
      },
      (found) => found,
      "the profile found by email",
    );
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export data" }).click()]);
    const exported = await download.createReadStream().then(async (stream) => {
      let text = "";
      for await (const chunk of stream) text += chunk;
      return text;
    });
    expect(exported).toContain(`${userId}@Example.com`);

    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Erase visitor" }).click();
    await page.getByText(/Erasure pr_[\w-]+: done/).waitFor();
    const after = await fetch(`${url}/admin/api/profiles/lookup?userId=${userId}`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(after.status).toBe(404);
    // A visitor with no touchpoint has no journey yet (404), and none once erased: nothing else failed.
    expect(errors.filter((e) => !e.includes("status of 404") && !/^404 .*profiles\/(lookup|journey)/.test(e))).toEqual([]);
    await context.close();
  });
});

describe("a viewer", () => {
  it("is offered no write action on any page", async () => {
    const { context, page } = await signedIn(e2e().viewerToken);
    const segments = (await (await fetch(`${e2e().url}/admin/api/segments`, { headers: { authorization: `Bearer ${e2e().adminToken}` } })).json()) as { segments: { id: string }[] };
    const profiles = [["profiles?userId=" + encodeURIComponent(`dash-${run}-1`), "Profiles"]] as const;
    const segment = segments.segments.slice(0, 1).map((s) => [`segments/${s.id}`, ""] as const);
    const existing = details.filter(([fragment]) => !fragment.endsWith("/new"));
    for (const [fragment, heading] of [...PAGES, ...profiles, ...segment, ...existing]) {
      await page.goto(`${e2e().url}/admin/#/${fragment}`);
      await page.locator("#page-title", heading ? { hasText: heading } : {}).waitFor({ timeout: 15_000 });
      await eventually(() => page.locator("[role=status]", { hasText: "Loading…" }).count(), (n) => n === 0, `${fragment} to load`);
      const offered = await page.locator("main button:not([disabled]), main a.button").allTextContents();
      expect(offered.filter((text) => WRITE.test(text.trim())), `#/${fragment} offers ${offered.join(", ")}`).toEqual([]);
    }
    // The saved segment's editor is read-only for a viewer (the reports' query fields stay open: they change nothing).
    await page.goto(`${e2e().url}/admin/#/${segment[0]![0]}`);
    await page.getByTestId("segment-size").waitFor();
    expect(await page.locator("main textarea:not([readonly]), main input[type=file]").count()).toBe(0);
    expect(await page.getByLabel("Rule (JSON)").getAttribute("readonly")).not.toBeNull();
    await page.goto(`${e2e().url}/admin/#/profiles?userId=${encodeURIComponent(`dash-${run}-1`)}`);
    await page.getByText("Export and erasure are for admins.").waitFor();
    await context.close();
  });
});
