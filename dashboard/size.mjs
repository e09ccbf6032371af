// The dashboard's first load: the files /admin's page loads (its one script and one stylesheet),
// as built, gzipped (gzip -9). Used by the budget test (test/unit/dashboard-size.test.ts) and by
// `npm run bench` (test/bench/dashboard-size.mjs).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

/** DESIGN.md §5: the first load is at most 150 KB of JavaScript, gzipped. */
export const DASHBOARD_JS_BUDGET = 150 * 1024;

const publicDir = new URL("../public/", import.meta.url);

/** {js: {file, bytes, gzip}, css: {file, bytes, gzip}, budget} of the current build in public/admin/. */
export function dashboardSize() {
  const html = readFileSync(new URL("admin/index.html", publicDir), "utf8");
  const measure = (pattern) => {
    const path = pattern.exec(html)?.[1];
    if (!path) throw new Error(`public/admin/index.html loads no file matching ${pattern}`);
    const bytes = readFileSync(new URL(`.${path}`, publicDir));
    return { file: path, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  };
  return { js: measure(/<script[^>]*src="([^"]+)"/), css: measure(/<link rel="stylesheet" href="([^"]+)"/), budget: DASHBOARD_JS_BUDGET };
}
