// The API viewer in a real browser: /admin/api/docs on `wrangler dev` renders Cohort's document
// with Swagger UI, without resolver errors (the experiences' recursive schemas included), and
// loads nothing from anywhere but the Worker.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2e, launchChromium } from "./helpers";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe("the API viewer", () => {
  it("renders every operation of the document, with no resolver error and nothing from a CDN", async () => {
    const { url } = e2e();
    const page = await browser.newPage();
    const errors: string[] = [];
    const hosts = new Set<string>();
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => void (message.type() === "error" && !message.text().startsWith("Failed to load resource") && errors.push(message.text())));
    page.on("request", (request) => void hosts.add(new URL(request.url()).origin));
    page.on("response", (response) => void (response.status() >= 400 && errors.push(`${response.status()} ${response.url()}`)));

    await page.goto(`${url}/admin/api/docs`);
    await page.locator(".swagger-ui .info .title").filter({ hasText: "Cohort" }).waitFor({ timeout: 20_000 });
    const doc = (await (await fetch(`${url}/admin/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    await expect.poll(() => page.locator(".opblock").count()).toBe(operations);

    // Open the operations whose schemas refer to themselves (rules, JSON content), as a reader would.
    for (const id of ["#operations-Experiences-post_admin_api_experiences", "#operations-Segments-post_admin_api_segments"]) {
      await page.locator(`${id} .opblock-summary`).first().click();
      await page.locator(`${id} .opblock-body`).waitFor();
    }
    await page.locator(".model-example").first().waitFor();
    expect(await page.locator(".errors-wrapper").count()).toBe(0);
    expect(await page.getByText(/resolver error/i).count()).toBe(0);
    expect(errors).toEqual([]);
    expect([...hosts]).toEqual([new URL(url).origin]);
    await page.close();
  });
});
