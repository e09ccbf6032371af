/**
 * Figures measured against a running `wrangler dev` with autocannon (one client, one run):
 * - throughput of single-event `POST /v1/track` (secret key) as a ratio to the empty route
 *   `POST /healthz` with the same headers and the same kind of body, side by side: returning
 *   visitors (RETURNING_USERS profiles created by a warm-up pass, cycled through), new visitors (a
 *   new userId per request, so a new profile each) and one hot profile (one userId); the baseline
 *   is measured before and after the collection runs and averaged, so drift in the machine cancels out;
 * - batch ingest events/s at batch sizes 1, 20 and 100 (one visitor per request, as the tag sends),
 *   and each as a multiple of the single-event batch's events/s;
 * (decide latency and the edge route are measured on a wrangler dev of their own: decide.mjs, edge.mjs.)
 * Between runs the queue consumer is let catch up (see `drain`), and how long that took is kept.
 */
import autocannon from "autocannon";

export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

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

/** Returning visitors: this many profiles, created by a warm-up pass, then cycled through. */
export const RETURNING_USERS = Number(process.env.BENCH_RETURNING_USERS ?? 500);
/** DESIGN.md §5 targets. */
export const TARGETS = { returning: 0.5, new: 0.25, hot: 0.5, batch100: 10 };

/** Every autocannon figure, in one run against `dev` (see lib/wrangler-dev.mjs). */
export async function benchHttp(dev, log = console.error) {
  const auth = basic(dev.secretKey);
  const fresh = () => trackEvent(`u-${nextId()}`);
  const hot = () => trackEvent("u-hot");
  let turn = 0;
  const returningId = (i) => `u-returning-${i}`;
  const returning = () => trackEvent(returningId(turn++ % RETURNING_USERS));
  const step = async (label, ...args) => {
    log(`  ${label} (${SECONDS} s, ${CONNECTIONS} connections)`);
    return load(dev.url, ...args);
  };

  // Warm both code paths (isolate, JIT, SQLite files) before anything is measured, and create the
  // returning visitors' profiles (one event each, 16 at a time).
  await load(dev.url, "/healthz", auth, fresh, { seconds: 2 });
  await load(dev.url, "/v1/track", auth, fresh, { seconds: 2 });
  log(`  creating ${RETURNING_USERS} returning visitors`);
  await pool(RETURNING_USERS, 16, async (i) => {
    const res = await fetch(`${dev.url}/v1/track`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify(trackEvent(returningId(i))) });
    if (!res.ok) throw new Error(`warm-up track answered ${res.status}: ${await res.text()}`);
  });
  await drain(dev);

  const drains = {};
  const empty1 = await step("POST /healthz (empty route)", "/healthz", auth, fresh);
  const trackReturning = await step(`POST /v1/track, returning visitors (${RETURNING_USERS} profiles)`, "/v1/track", auth, returning);
  drains.afterTrackReturning = await drain(dev);
  const trackNew = await step("POST /v1/track, new visitors (a new profile each)", "/v1/track", auth, fresh);
  drains.afterTrackNew = await drain(dev);
  const trackHot = await step("POST /v1/track, one hot profile", "/v1/track", auth, hot);
  drains.afterTrackHot = await drain(dev);
  const empty2 = await step("POST /healthz again", "/healthz", auth, fresh);
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
  const single = batches.find((b) => b.size === 1);
  for (const b of batches) b.vsSingle = b.eventsPerSec / single.eventsPerSec;

  return {
    connections: CONNECTIONS,
    seconds: SECONDS,
    returningUsers: RETURNING_USERS,
    empty: { first: empty1, second: empty2, rps: emptyRps },
    trackReturning: { ...trackReturning, ratio: trackReturning.rps / emptyRps },
    trackNew: { ...trackNew, ratio: trackNew.rps / emptyRps },
    trackHot: { ...trackHot, ratio: trackHot.rps / emptyRps },
    targets: TARGETS,
    drains,
    batches,
  };
}

/** Runs `task(i)` for i < n, `concurrency` at a time. */
export async function pool(n, concurrency, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await task(next++);
    }),
  );
}
