/**
 * The cost of the edge HTML route (worker/http/edge.ts, worker/decisions/rewrite.ts) on a ~100 KB
 * page. A local origin (lib/origin.mjs, its own process) serves the page with three
 * `[data-cohort-slot]` elements, the same page without them, and the same bytes as text/plain;
 * `wrangler dev` runs with `EDGE_ORIGIN` pointing at it, and the bench site allows the Worker's own
 * origin (the edge route finds its site by the request's origin). autocannon GETs, at 32 clients:
 * - the origin directly (what the page costs without Cohort);
 * - `/slots.html` through the Worker: buffered, slots collected, decided (a cookieless visitor:
 *   context-only experiences), filled, tag injected — the personalised path;
 * - `/plain.html` through the Worker: buffered and parsed, no slot to decide, tag injected;
 * - `/page.txt` through the Worker: not HTML, streamed through untouched — the pass-through path.
 * The added latency of personalising is the personalised path's p50/p99 minus the pass-through's,
 * at 32 clients and at 1 client (where it is not mixed with queueing).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { CONNECTIONS, load, SECONDS } from "./http.mjs";

const originScript = fileURLToPath(new URL("./lib/origin.mjs", import.meta.url));

/** Starts the origin; returns {url, bytes, stop()}. */
export async function startOrigin() {
  const child = spawn(process.execPath, [originScript], { stdio: ["ignore", "pipe", "inherit"] });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", () => child.kill("SIGKILL"));
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    new Promise((resolve) => lines.once("line", resolve)),
    new Promise((_, reject) => child.once("exit", (code) => reject(new Error(`origin exited with ${code}`)))),
    new Promise((_, reject) => setTimeout(() => reject(new Error("origin did not start within 10 s")), 10_000)),
  ]);
  const { port, bytes } = JSON.parse(first);
  return { url: `http://127.0.0.1:${port}`, bytes, stop };
}

/** Lets the bench site be found by the Worker's own origin. */
export async function allowWorkerOrigin(dev) {
  const res = await fetch(`${dev.url}/admin/api/sites/${dev.siteId}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${dev.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ origins: ["https://shop.example", dev.url] }),
  });
  if (!res.ok) throw new Error(`PATCH /admin/api/sites answered ${res.status}: ${await res.text()}`);
}

/** What one GET of each path answers through the Worker: proof the paths do what they are named. */
async function probe(dev, origin) {
  const get = async (base, path) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, type: res.headers.get("content-type"), cacheControl: res.headers.get("cache-control"), body: await res.text() };
  };
  const direct = await get(origin.url, "/slots.html");
  const slots = await get(dev.url, "/slots.html");
  const plain = await get(dev.url, "/plain.html");
  const text = await get(dev.url, "/page.txt");
  const count = (body, pattern) => (body.match(pattern) ?? []).length;
  return {
    personalised: {
      status: slots.status,
      bytes: Buffer.byteLength(slots.body),
      slotsDone: count(slots.body, /data-cohort-done/g),
      tagInjected: /<script[^>]*data-key=/.test(slots.body),
      cacheControl: slots.cacheControl,
      changed: slots.body !== direct.body,
    },
    tagOnly: { status: plain.status, bytes: Buffer.byteLength(plain.body), tagInjected: /<script[^>]*data-key=/.test(plain.body) },
    passThrough: { status: text.status, bytes: Buffer.byteLength(text.body), identical: text.body === direct.body },
  };
}

export async function benchEdge(dev, origin, log = console.error) {
  await allowWorkerOrigin(dev);
  const checks = await probe(dev, origin);
  const get = (label, base, path) => {
    log(`  GET ${path} ${label} (${SECONDS} s, ${CONNECTIONS} connections)`);
    return load(base, path, {}, null, { method: "GET" });
  };
  // Warm the isolate on every path.
  for (const path of ["/slots.html", "/plain.html", "/page.txt"]) await load(dev.url, path, {}, null, { method: "GET", seconds: 2 });
  const direct = await get("from the origin directly", origin.url, "/slots.html");
  const personalised = await get("through the Worker (3 slots, personalised)", dev.url, "/slots.html");
  const tagOnly = await get("through the Worker (no slot, tag injected)", dev.url, "/plain.html");
  const passThrough = await get("through the Worker (text/plain, passed through)", dev.url, "/page.txt");
  // At 32 clients latency is mostly queueing behind the other 31; one client shows what a page costs.
  log(`  GET /slots.html and /page.txt through the Worker (${SECONDS} s each, 1 connection)`);
  const personalisedSingle = await load(dev.url, "/slots.html", {}, null, { method: "GET", connections: 1 });
  const passThroughSingle = await load(dev.url, "/page.txt", {}, null, { method: "GET", connections: 1 });
  return {
    pageBytes: origin.bytes,
    checks,
    direct,
    personalised,
    tagOnly,
    passThrough,
    personalisedSingle,
    passThroughSingle,
    added: {
      p50: personalised.latency.p50 - passThrough.latency.p50,
      p99: personalised.latency.p99 - passThrough.latency.p99,
      singleP50: personalisedSingle.latency.p50 - passThroughSingle.latency.p50,
      singleP99: personalisedSingle.latency.p99 - passThroughSingle.latency.p99,
    },
  };
}
