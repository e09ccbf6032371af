/**
 * The browser SDKs' path (README "One browser, one profile"): single-event `POST /v1/t` as
 * analytics.js sends it (text/plain, Basic auth, an allowed Origin, its consent wrapper's
 * categories), over a pool of returning browsers, each as a ratio to the empty route with the same
 * headers and body:
 * - `cookie`: the browsers send the tag's cookie and no anonymousId (the path before this work);
 * - `anonymousId`: no cookie, the browser named by its SDK's anonymousId (what analytics.js does
 *   cross-origin): one call to the profile it names, as with the cookie;
 * - `cookie + bound anonymousId`: both, the binding made before the run; the isolate remembers it,
 *   so no call is added per event.
 * The empty route is measured before and after and averaged, as in http.mjs.
 *
 * Run alone: `node test/bench/sdk.mjs` (BENCH_SECONDS, BENCH_CONNECTIONS as for `npm run bench`).
 */
import autocannon from "autocannon";
import { pathToFileURL } from "node:url";
import { CONNECTIONS, SECONDS, drain, nextId } from "./http.mjs";
import { startDev } from "./lib/wrangler-dev.mjs";

const ORIGIN = "https://shop.example";
const USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
export const BROWSERS = Number(process.env.BENCH_SDK_BROWSERS ?? 200);

const consent = { consent: { categoryPreferences: { Analytics: true, Personalization: true, Advertising: false } } };
const ajsTrack = (anonymousId) => ({
  type: "track",
  event: "Product Viewed",
  userId: null,
  ...(anonymousId ? { anonymousId } : {}),
  messageId: `ajs-next-${nextId()}`,
  properties: { sku: "SHOE-42", price: 89.9 },
  context: { ...consent, page: { url: "https://shop.example/p/shoe-42", path: "/p/shoe-42" }, library: { name: "analytics.js", version: "next-1.84.3" } },
});

function headersFor(writeKey, cookie) {
  return {
    origin: ORIGIN,
    "user-agent": USER_AGENT,
    "content-type": "text/plain",
    authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
    ...(cookie ? { cookie } : {}),
  };
}

/** One run: each request is the next browser of the pool (`pick` gives its headers and body). */
async function run(url, path, pick, { seconds = SECONDS, connections = CONNECTIONS } = {}) {
  let i = 0;
  const result = await autocannon({
    url: `${url}${path}`,
    connections,
    duration: seconds,
    method: "POST",
    requests: [
      {
        setupRequest(request) {
          const { headers, body } = pick(i++ % BROWSERS);
          request.headers = { ...request.headers, ...headers };
          request.body = JSON.stringify(body);
          return request;
        },
      },
    ],
  });
  return { path, ok: result["2xx"], non2xx: result.non2xx, errors: result.errors + result.timeouts, rps: result["2xx"] / result.duration, latency: { p50: result.latency.p50, p99: result.latency.p99 } };
}

async function post(url, writeKey, body, cookie) {
  const res = await fetch(`${url}/v1/t`, { method: "POST", headers: headersFor(writeKey, cookie), body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`/v1/t answered ${res.status}: ${await res.text()}`);
  return res.headers.get("set-cookie")?.split(";")[0];
}

/** The pool: browsers with a cookie, the same with a bound anonymousId, and cookieless ones with a profile. */
async function browsers(dev) {
  const pool = [];
  for (let i = 0; i < BROWSERS; i++) {
    const cookie = await post(dev.url, dev.writeKey, { ...ajsTrack(), type: "page" });
    if (!cookie) throw new Error("the first page view set no cookie");
    const bound = `ajs-bound-${nextId()}`;
    await post(dev.url, dev.writeKey, ajsTrack(bound), cookie);
    const cookieless = `ajs-${nextId()}`;
    await post(dev.url, dev.writeKey, ajsTrack(cookieless));
    pool.push({ cookie, bound, cookieless });
  }
  return pool;
}

export async function benchSdk(dev, log = console.error) {
  log(`  sdk: ${BROWSERS} returning browsers`);
  const pool = await browsers(dev);
  await drain(dev);
  const step = async (label, path, pick) => {
    log(`  ${label} (${SECONDS} s, ${CONNECTIONS} connections)`);
    const result = await run(dev.url, path, pick);
    await drain(dev);
    return result;
  };
  const empty = () => ({ headers: headersFor(dev.writeKey), body: ajsTrack("x") });
  await run(dev.url, "/healthz", empty, { seconds: 2 });
  const empty1 = await step("POST /healthz (empty route, browser headers)", "/healthz", empty);
  const cookie = await step("POST /v1/t, cookie (the tag's way)", "/v1/t", (i) => ({ headers: headersFor(dev.writeKey, pool[i].cookie), body: ajsTrack() }));
  const anonymous = await step("POST /v1/t, anonymousId without cookie (analytics.js cross-origin)", "/v1/t", (i) => ({ headers: headersFor(dev.writeKey), body: ajsTrack(pool[i].cookieless) }));
  const bound = await step("POST /v1/t, cookie + bound anonymousId", "/v1/t", (i) => ({ headers: headersFor(dev.writeKey, pool[i].cookie), body: ajsTrack(pool[i].bound) }));
  const empty2 = await step("POST /healthz again", "/healthz", empty);
  const emptyRps = (empty1.rps + empty2.rps) / 2;
  const ratio = (r) => ({ ...r, ratio: r.rps / emptyRps });
  return { browsers: BROWSERS, connections: CONNECTIONS, seconds: SECONDS, empty: { first: empty1, second: empty2, rps: emptyRps }, cookie: ratio(cookie), anonymousId: ratio(anonymous), bound: ratio(bound) };
}

/** `npm run bench`'s step: on a wrangler dev of its own, one row per path (info: no target of its own). */
export async function benchStep(row, log = console.error) {
  log("browser SDKs: /v1/t by cookie, by anonymousId, by cookie + bound anonymousId (fresh state)");
  let dev;
  try {
    dev = await startDev({ keep: Boolean(process.env.BENCH_KEEP) });
    const result = await benchSdk(dev, log);
    const labels = { cookie: "cookie (the tag)", anonymousId: "anonymousId, no cookie (analytics.js)", bound: "cookie + bound anonymousId" };
    for (const [name, label] of Object.entries(labels)) {
      const r = result[name];
      row(`/v1/t from a browser SDK, ${label}, returning`, `${Math.round(r.rps)} req/s = ${r.ratio.toFixed(2)}× empty route, p99 ${r.latency.p99} ms`, "≈ the cookie's ratio", "info");
    }
    return result;
  } catch (error) {
    log(error);
    row("/v1/t from a browser SDK", "error (see latest.json)", "", "MISS");
    return { error: String(error.stack ?? error) };
  } finally {
    await dev?.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const dev = await startDev({ keep: Boolean(process.env.BENCH_KEEP) });
  try {
    const result = await benchSdk(dev);
    console.log(JSON.stringify(result, null, 2));
    for (const name of ["cookie", "anonymousId", "bound"]) {
      const r = result[name];
      console.error(`${name}: ${Math.round(r.rps)} req/s, ${r.ratio.toFixed(2)}× the empty route (${Math.round(result.empty.rps)} req/s), p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}`);
    }
  } finally {
    await dev.stop();
  }
}
