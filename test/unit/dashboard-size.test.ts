// The dashboard's budget (DESIGN.md §5): the first load of /admin is at most 150 KB of JavaScript
// gzipped, and every file it loads comes from the build (no CDN, no font download). Builds the
// dashboard first, so the test measures exactly what `npm run build:dashboard` ships.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_JS_BUDGET, dashboardSize } from "../../dashboard/size.mjs";

const root = new URL("../../", import.meta.url);
let html: string;

beforeAll(() => {
  execFileSync(process.execPath, ["dashboard/build.mjs"], { cwd: root, stdio: "pipe" });
  html = readFileSync(new URL("public/admin/index.html", root), "utf8");
});

describe("the dashboard build", () => {
  it(`loads at most ${DASHBOARD_JS_BUDGET / 1024} KB of JavaScript gzipped`, () => {
    const { js } = dashboardSize();
    expect(js.file).toMatch(/^\/admin\/app\.[0-9a-f]{8}\.js$/);
    expect(js.gzip).toBeGreaterThan(10_000); // Preact, uPlot and the pages are in it.
    expect(js.gzip).toBeLessThanOrEqual(DASHBOARD_JS_BUDGET);
  });

  it("loads only its own content-hashed files: no other script, style, font or origin", () => {
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    const { js, css } = dashboardSize();
    expect(urls.sort()).toEqual([js.file, css.file, "data:,"].sort());
    const styles = readFileSync(new URL(`public${css.file}`, root), "utf8");
    expect(styles).not.toMatch(/@import|@font-face|url\((?!data:)/);
    const code = readFileSync(new URL(`public${js.file}`, root), "utf8");
    expect(code).not.toMatch(/https?:\/\/(?!localhost)[a-z0-9.-]+\.(?:com|net|io|org)\/[^"'\s]*\.(?:js|css|woff2?)/);
  });
});
