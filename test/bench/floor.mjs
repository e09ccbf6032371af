/**
 * The platform's floor: what a single-event `/v1/track` cannot do without, measured on the same
 * `wrangler dev` simulation and machine as http.mjs, with none of Cohort's logic (a Worker of its
 * own, test/bench/floor/worker.js). Each route adds one platform call to the empty route — a
 * rate-limit call, a queue send (with a consumer that archives each batch in D1), a Durable Object
 * call that records the event's messageId in SQLite (and one to a new object that first creates a
 * new Cohort profile's schema) — and `/track` makes all three, for returning
 * objects (created by a warm-up pass and cycled through, as http.mjs does), a new object per
 * request, and one hot object. Each figure is a ratio to the empty route, so it is the ceiling of
 * the matching track ratio in http.mjs: Cohort's track does these calls and its own work besides.
 *
 * `node test/bench/floor.mjs` prints the figures alone; run.mjs puts them in the table.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { load, nextId, RETURNING_USERS, SECONDS, trackEvent } from "./http.mjs";
import { freePort, root, stateRoot, stopGroup, untilUp, wrangler } from "./lib/wrangler-dev.mjs";

const app = join(root, "test/bench/floor");

/** wrangler dev on the floor Worker, in a fresh state folder; `stop()` ends it and removes the state. */
async function startFloor() {
  const dir = mkdtempSync(join(stateRoot(), "cohort-floor-"));
  const log = join(dir, "wrangler.log");
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = ["dev", "--port", String(port), "--ip", "127.0.0.1", "--inspector-port", String(inspectorPort), "--persist-to", dir, "--show-interactive-dev-session=false", "--log-level", "warn"];
  const dev = wrangler(args, log, app);
  const stop = async () => {
    await stopGroup(dev);
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await untilUp(dev, `${url}/healthz`, log, { method: "POST", body: "{}" });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, stop };
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every floor figure, in one run: `{empty, routes: [{name, rps, ratio, non2xx}]}`. */
export async function benchFloor(log = console.error) {
  const dev = await startFloor();
  try {
    let turn = 0;
    const bodies = {
      fresh: () => trackEvent(`u-${nextId()}`),
      returning: () => trackEvent(`u-returning-${turn++ % RETURNING_USERS}`),
      hot: () => trackEvent("u-hot"),
    };
    const run = async (label, path, body) => {
      log(`  floor: POST ${path}, ${label} (${SECONDS} s)`);
      const result = await load(dev.url, path, {}, body);
      // Let the queue consumer catch up, so a run's backlog does not slow the next one.
      if (path === "/queue" || path === "/track") await pause(3000);
      return result;
    };
    // Warm the isolate and every code path, and create the returning objects.
    for (const path of ["/healthz", "/limit", "/queue", "/object", "/object-schema", "/track"]) await load(dev.url, path, {}, bodies.fresh, { seconds: 2 });
    for (let i = 0; i < RETURNING_USERS; i += 16) {
      await Promise.all(Array.from({ length: Math.min(16, RETURNING_USERS - i) }, (_, j) => fetch(`${dev.url}/object`, { method: "POST", body: JSON.stringify(trackEvent(`u-returning-${i + j}`)) })));
    }
    await pause(3000);
    const first = await run("empty route", "/healthz", bodies.fresh);
    const routes = [];
    const add = async (name, path, body) => routes.push({ name, ...(await run(name, path, body)) });
    await add("rate-limit call", "/limit", bodies.fresh);
    await add("queue send", "/queue", bodies.fresh);
    await add("object call, returning", "/object", bodies.returning);
    await add("object call, new object", "/object", bodies.fresh);
    await add("object call, new object creating a Cohort profile's schema", "/object-schema", bodies.fresh);
    await add("track floor, returning", "/track", bodies.returning);
    await add("track floor, new object", "/track", bodies.fresh);
    await add("track floor, one hot object", "/track", bodies.hot);
    const second = await run("empty route again", "/healthz", bodies.fresh);
    const empty = (first.rps + second.rps) / 2;
    return {
      empty: { rps: empty, first: first.rps, second: second.rps },
      // What the route's calls add to a request, in ms of this machine: the same calls add about as
      // much to any route, so `ceiling()` puts them on Cohort's own empty route.
      routes: routes.map((r) => ({ name: r.name, rps: r.rps, ratio: r.rps / empty, addedMs: 1000 / r.rps - 1000 / empty, non2xx: r.non2xx + r.errors })),
    };
  } finally {
    await dev.stop();
  }
}

/** The ratio a route with `addedMs` of platform calls reaches at most over an empty route of `emptyRps`. */
export const ceiling = (emptyRps, addedMs) => 1000 / emptyRps / (1000 / emptyRps + addedMs);

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const floor = await benchFloor();
  console.log(`empty ${Math.round(floor.empty.rps)} req/s (${Math.round(floor.empty.first)} then ${Math.round(floor.empty.second)})`);
  for (const r of floor.routes) console.log(`${r.name}: ${Math.round(r.rps)} req/s = ${r.ratio.toFixed(2)}×, +${r.addedMs.toFixed(2)} ms a request (${r.non2xx} non-2xx)`);
}
