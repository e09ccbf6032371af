/**
 * Pages of the "customer's site" that run the SDKs themselves, unchanged, from the site's own
 * origin (another origin than Cohort's): Segment's analytics.js (`@segment/analytics-next`, its UMD
 * build and lazy chunks, with Segment's consent wrapper `@segment/analytics-consent-tools`) and
 * RudderStack's JS SDK v3 (`@rudderstack/analytics-js`, its bundled UMD build). Nothing comes from
 * a CDN: the files are served from node_modules.
 *
 * - `/sdk/segment?cohort=<url>&key=<writeKey>&consent=<json categories>`: `window.ajs` is the
 *   AnalyticsBrowser, loaded with `cdnURL` = Cohort (settings from `/v1/projects/:key/settings`),
 *   wrapped by the consent wrapper whose `getCategories` answers `consent`.
 * - `/sdk/rudder?cohort=<url>&key=<writeKey>&allowed=<ids>&denied=<ids>&beacon=1`: `window.ra` is
 *   the RudderAnalytics instance with `configUrl` and `dataPlaneUrl` = Cohort and a custom consent
 *   manager with those (comma-separated) ids; `beacon=1` sends with `useBeacon` (sendBeacon batches).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

const modules = fileURLToPath(new URL("../../node_modules/", import.meta.url));
const segmentUmd = join(modules, "@segment/analytics-next/dist/umd");
const rudderUmd = join(modules, "@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js");

let consentTools: string | undefined;
/** The consent wrapper has no browser build of its own: bundled once, as a page's build would. */
function consentToolsScript(): string {
  consentTools ??= buildSync({
    stdin: { contents: `export { createWrapper } from "@segment/analytics-consent-tools";`, resolveDir: modules },
    bundle: true,
    format: "iife",
    globalName: "SegmentConsentTools",
    platform: "browser",
    write: false,
  }).outputFiles[0]!.text;
  return consentTools;
}

const json = (value: unknown) => JSON.stringify(value).replace(/</g, "\\u003c");

function segmentPage(cohort: string, writeKey: string, categories: unknown): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Segment shop</title>
<script>window.analytics = { _cdn: location.origin };</script>
<script src="/sdk/analytics-next.js"></script>
<script src="/sdk/consent-tools.js"></script>
<script>
  const ajs = new AnalyticsNext.AnalyticsBrowser();
  SegmentConsentTools.createWrapper({ getCategories: () => (${json(categories)}) })(ajs);
  ajs.load({ writeKey: ${json(writeKey)}, cdnURL: ${json(cohort)} });
  window.ajs = ajs;
</script></head><body><h1>Segment shop</h1></body></html>`;
}

function rudderPage(cohort: string, writeKey: string, allowed: string[], denied: string[], beacon: boolean): string {
  const consentManagement = { enabled: true, provider: "custom", allowedConsentIds: allowed, deniedConsentIds: denied };
  const delivery = beacon ? { useBeacon: true, beaconQueueOptions: { flushQueueInterval: 200 } } : {};
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>RudderStack shop</title>
<script src="/sdk/rudder.js"></script>
<script>
  const ra = new rudderanalytics.RudderAnalytics();
  ra.load(${json(writeKey)}, ${json(cohort)}, { configUrl: ${json(cohort)}, consentManagement: ${json(consentManagement)}, ...${json(delivery)}, logLevel: "ERROR" });
  window.ra = ra;
</script></head><body><h1>RudderStack shop</h1></body></html>`;
}

const ids = (value: string | null) => (value ? value.split(",").filter(Boolean) : []);

/** The answer for an `/sdk/…` or `/analytics-next/bundles/…` path, or undefined for any other. */
export function sdkAsset(url: URL, defaults: { cohortUrl: string; writeKey: string }): { type: string; body: string } | undefined {
  const cohort = url.searchParams.get("cohort") ?? defaults.cohortUrl;
  const key = url.searchParams.get("key") ?? defaults.writeKey;
  const html = "text/html; charset=utf-8";
  const js = "text/javascript; charset=utf-8";
  if (url.pathname === "/sdk/segment") return { type: html, body: segmentPage(cohort, key, JSON.parse(url.searchParams.get("consent") ?? "{}")) };
  if (url.pathname === "/sdk/rudder") return { type: html, body: rudderPage(cohort, key, ids(url.searchParams.get("allowed")), ids(url.searchParams.get("denied")), url.searchParams.get("beacon") === "1") };
  if (url.pathname === "/sdk/analytics-next.js") return { type: js, body: readFileSync(join(segmentUmd, "index.js"), "utf8") };
  if (url.pathname === "/sdk/consent-tools.js") return { type: js, body: consentToolsScript() };
  if (url.pathname === "/sdk/rudder.js") return { type: js, body: readFileSync(rudderUmd, "utf8") };
  const chunk = /^\/analytics-next\/bundles\/([\w.-]+\.js)$/.exec(url.pathname)?.[1];
  if (chunk) return { type: js, body: readFileSync(join(segmentUmd, chunk), "utf8") };
  return undefined;
}
