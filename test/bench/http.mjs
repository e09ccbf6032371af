/**
 * Figures measured against a running `wrangler dev` with autocannon (one client, one run):
 * - throughput of single-event `POST /v1/track` (secret key) as a ratio to the empty route
 *   `POST /healthz` with the same headers and the same kind of body, over many profiles (a new
 *   userId per request) and one hot profile (one userId); the baseline is measured before and after
 *   the collection runs and averaged, so drift in the machine cancels out;
 * - batch ingest events/s at batch sizes 1, 20 and 100 (one visitor per request, as the tag sends);
 * (decide latency and the edge route are measured on a wrangler dev of their own: decide.mjs, edge.mjs.)
 * Between runs the queue consumer is let catch up (see `drain`), and how long that took is kept.
 */
import autocannon from "autocannon";

export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
export const RATIO_TARGET = 0.5;

let sequence = 0;
const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
/** A messageId no other request of any run uses. */
export const nextId = () => `${run}-${(sequence++).toString(36)}`;

export const trackEvent = (userId) => ({
  userId,
  messageId: nextId(),
  event: "Product Viewed",
  properties: { sku: "SHOE-42", category: "shoes", price: 89.9 },
  context: { page: { url: "https://shop.example/p/shoe-42?utm_source=news", referrer: "https://www.google.com/" } },
});

/**
 * One autocannon run; `body()` makes each request's body (a POST of JSON), or with `body` null the
 * request has none (`method` GET, say). Returns rates from 2xx answers only, so errors never count
 * as throughput; non-2xx and socket errors are reported next to them.
 */
export async function load(url, path, headers, body, { seconds = SECONDS, connections = CONNECTIONS, method = "POST" } = {}) {
  const result = await autocannon({
    url: `${url}${path}`,
    connections,
    duration: seconds,
    method,
    headers: body ? { "content-type": "application/json", ...headers } : headers,
    requests: body
      ? [
          {
            setupRequest(request) {
              request.body = JSON.stringify(body());
              return request;
            },
          },
        ]
      : undefined,
  });
  return {
    path,
    connections,
    seconds: result.duration,
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    rps: result["2xx"] / result.duration,
    bytesPerSec: result.throughput.average,
    latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, mean: result.latency.mean, max: result.latency.max },
  };
}

/**
 * Waits until the queue consumer has caught up: a sentinel event sent now shows up among the
 * newest archived events (local queues deliver in order). Returns the seconds it took, so the
 * backlog a run left behind does not slow the next run, and is reported as a figure of its own.
 */
export async function drain(dev, timeoutMs = 180_000) {
  const started = Date.now();
  const sentinel = { ...trackEvent("u-sentinel"), event: "Bench Sentinel" };
  const res = await fetch(`${dev.url}/v1/track`, {
    method: "POST",
    headers: { "content-type": "application/json", ...basic(dev.secretKey) },
    body: JSON.stringify(sentinel),
  });
  if (!res.ok) throw new Error(`sentinel answered ${res.status}: ${await res.text()}`);
  while (Date.now() - started < timeoutMs) {
    const list = await fetch(`${dev.url}/admin/api/events?limit=20`, { headers: { authorization: `Bearer ${dev.adminToken}` } });
    const { events } = await list.json();
    if (events.some((e) => e.messageId === sentinel.messageId)) return (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}

export const basic = (key) => ({ authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}` });

/** Every autocannon figure, in one run against `dev` (see lib/wrangler-dev.mjs). */
export async function benchHttp(dev, log = console.error) {
  const auth = basic(dev.secretKey);
  const many = () => trackEvent(`u-${nextId()}`);
  const hot = () => trackEvent("u-hot");
  const step = async (label, ...args) => {
    log(`  ${label} (${SECONDS} s, ${CONNECTIONS} connections)`);
    return load(dev.url, ...args);
  };

  // Warm both code paths (isolate, JIT, SQLite files) before anything is measured.
  await load(dev.url, "/healthz", auth, many, { seconds: 2 });
  await load(dev.url, "/v1/track", auth, many, { seconds: 2 });
  await drain(dev);

  const empty1 = await step("POST /healthz (empty route)", "/healthz", auth, many);
  const trackMany = await step("POST /v1/track, many profiles", "/v1/track", auth, many);
  const drains = {};
  drains.afterTrackMany = await drain(dev);
  const trackHot = await step("POST /v1/track, one hot profile", "/v1/track", auth, hot);
  drains.afterTrackHot = await drain(dev);
  const empty2 = await step("POST /healthz again", "/healthz", auth, many);
  const emptyRps = (empty1.rps + empty2.rps) / 2;

  const batches = [];
  for (const size of [1, 20, 100]) {
    const batch = () => {
      const userId = `u-${nextId()}`;
      return { batch: Array.from({ length: size }, () => ({ type: "track", ...trackEvent(userId) })) };
    };
    const result = await step(`POST /v1/batch × ${size}`, "/v1/batch", auth, batch);
    batches.push({ size, ...result, eventsPerSec: result.rps * size, drainSeconds: await drain(dev) });
  }

  return {
    connections: CONNECTIONS,
    seconds: SECONDS,
    empty: { first: empty1, second: empty2, rps: emptyRps },
    trackMany: { ...trackMany, ratio: trackMany.rps / emptyRps },
    trackHot: { ...trackHot, ratio: trackHot.rps / emptyRps },
    ratioTarget: RATIO_TARGET,
    drains,
    batches,
  };
}
