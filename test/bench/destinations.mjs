/**
 * Destinations bench (DESIGN.md §5 "destinations"), against its own `wrangler dev` with local
 * receivers (ALLOW_LOCAL_DESTINATIONS): event → webhook latency p50/p99 (one event every 50 ms,
 * from the moment `/v1/track` answered to the moment the receiver got it), deliveries/s (a burst of
 * events sent as fast as `/v1/batch` takes them, until the last arrives), and a run through an
 * endpoint that fails the first attempt of every event: every event arrives, none acknowledged twice.
 *
 * Run alone: `node test/bench/destinations.mjs` (prints JSON). `npm run bench` runs it as one step.
 */
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { startDev } from "./lib/wrangler-dev.mjs";

export const LATENCY_P50_TARGET_MS = 2000;
const LATENCY_EVENTS = Number(process.env.BENCH_DESTINATION_EVENTS ?? 200);
const BURST_EVENTS = Number(process.env.BENCH_DESTINATION_BURST ?? 2000);
const FLAKY_EVENTS = 200;

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A receiver that records when each messageId arrived; `fail(id, n)` says whether attempt n fails. */
async function startReceiver(fail = () => false) {
  const arrivals = new Map();
  const attempts = new Map();
  const acked = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      const id = String(req.headers["webhook-id"]);
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      if (fail(id, n)) return res.writeHead(503).end();
      acked.set(id, (acked.get(id) ?? 0) + 1);
      const { messageId } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (!arrivals.has(messageId)) arrivals.set(messageId, at);
      res.writeHead(200).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/hook`, arrivals, attempts, acked, close: () => new Promise((r) => server.close(r)) };
}

async function createHook(dev, url, name) {
  const res = await fetch(`${dev.url}/admin/api/destinations`, {
    method: "POST",
    headers: { authorization: `Bearer ${dev.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name, type: "webhook", config: { url } }),
  });
  if (res.status !== 201) throw new Error(`POST /admin/api/destinations answered ${res.status}: ${await res.text()}`);
  return res.json();
}

async function deleteHook(dev, id) {
  await fetch(`${dev.url}/admin/api/destinations/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${dev.adminToken}` } });
}

const auth = (dev) => ({ authorization: `Basic ${Buffer.from(`${dev.secretKey}:`).toString("base64")}`, "content-type": "application/json" });
const event = (tag, i) => ({ type: "track", userId: `bench-dest-${tag}-${i % 50}`, event: "Order Completed", messageId: `bench-${tag}-${i}`, properties: { i } });

async function waitFor(check, timeoutMs) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (check()) return true;
    await sleep(50);
  }
  return false;
}

export async function benchDestinations(log = console.error) {
  const dev = await startDev({ vars: { ALLOW_LOCAL_DESTINATIONS: "true" } });
  const receivers = [];
  try {
    // 1. Latency: one event at a time.
    const fast = await startReceiver();
    receivers.push(fast);
    const hook = await createHook(dev, fast.url, "bench latency");
    log(`destinations: latency over ${LATENCY_EVENTS} events, one every 50 ms`);
    const sentAt = new Map();
    for (let i = 0; i < LATENCY_EVENTS; i++) {
      const e = event("lat", i);
      const res = await fetch(`${dev.url}/v1/track`, { method: "POST", headers: auth(dev), body: JSON.stringify(e) });
      if (!res.ok) throw new Error(`/v1/track answered ${res.status}`);
      sentAt.set(e.messageId, performance.now());
      await sleep(50);
    }
    await waitFor(() => fast.arrivals.size >= LATENCY_EVENTS, 60_000);
    const latencies = [...sentAt].filter(([id]) => fast.arrivals.has(id)).map(([id, at]) => fast.arrivals.get(id) - at).sort((a, b) => a - b);
    const latency = { events: LATENCY_EVENTS, arrived: latencies.length, p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)) };
    await deleteHook(dev, hook.id);

    // 2. Throughput: a burst through /v1/batch (100 per request, 8 requests at a time).
    const sink = await startReceiver();
    receivers.push(sink);
    const burstHook = await createHook(dev, sink.url, "bench burst");
    log(`destinations: burst of ${BURST_EVENTS} events`);
    const started = performance.now();
    const batches = [];
    for (let i = 0; i < BURST_EVENTS; i += 100) batches.push(Array.from({ length: Math.min(100, BURST_EVENTS - i) }, (_, j) => event("burst", i + j)));
    for (let i = 0; i < batches.length; i += 8) {
      await Promise.all(batches.slice(i, i + 8).map(async (batch) => {
        const res = await fetch(`${dev.url}/v1/batch`, { method: "POST", headers: auth(dev), body: JSON.stringify({ batch }) });
        if (!res.ok) throw new Error(`/v1/batch answered ${res.status}`);
      }));
    }
    const complete = await waitFor(() => sink.arrivals.size >= BURST_EVENTS, 180_000);
    const seconds = (performance.now() - started) / 1000;
    const burst = { events: BURST_EVENTS, arrived: sink.arrivals.size, seconds: Number(seconds.toFixed(1)), deliveriesPerSecond: Math.round(sink.arrivals.size / seconds), complete };
    await deleteHook(dev, burstHook.id);

    // 3. Through an endpoint that fails the first attempt of every event (half of all requests).
    const flaky = await startReceiver((_, n) => n === 1);
    receivers.push(flaky);
    const flakyHook = await createHook(dev, flaky.url, "bench flaky");
    log(`destinations: ${FLAKY_EVENTS} events through an endpoint failing half its requests`);
    for (let i = 0; i < FLAKY_EVENTS; i += 100) {
      const res = await fetch(`${dev.url}/v1/batch`, { method: "POST", headers: auth(dev), body: JSON.stringify({ batch: Array.from({ length: 100 }, (_, j) => event("flaky", i + j)) }) });
      if (!res.ok) throw new Error(`/v1/batch answered ${res.status}`);
    }
    await waitFor(() => flaky.acked.size >= FLAKY_EVENTS, 90_000);
    const requests = [...flaky.attempts.values()].reduce((a, b) => a + b, 0);
    const flakyResult = {
      events: FLAKY_EVENTS,
      arrived: flaky.arrivals.size,
      ackedTwice: [...flaky.acked.values()].filter((n) => n > 1).length,
      failedShare: Number((1 - flaky.acked.size / requests).toFixed(2)),
    };
    await deleteHook(dev, flakyHook.id);
    return { latency, burst, flaky: flakyResult };
  } finally {
    for (const r of receivers) await r.close();
    await dev.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(JSON.stringify(await benchDestinations(), null, 2));
}
