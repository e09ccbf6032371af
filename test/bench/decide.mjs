/**
 * Decide at 32 concurrent clients (DESIGN.md §5: throughput ≥ 0.5× the empty route's, p99 ≤ 2× the
 * empty route's p99, both on the same `wrangler dev` in the same run), against its own
 * `wrangler dev` (fresh state, no queue backlog from the collection runs):
 * - through the admin API: a segment ("Product Viewed" with category shoes within 7d), a live
 *   experience for slot `hero` whose audience is that segment (two variants, one with a trait
 *   placeholder), and a live context-only experience for slot `banner`;
 * - `DECIDE_USERS` server-side profiles warmed with `POST /v1/track` (secret key), every other one
 *   viewing shoes (so half are in the segment), then each decided once, so first exposures are
 *   recorded before the measured runs and the queue has caught up;
 * - autocannon `POST /v1/decide {"slots":["hero","banner"],"userId":…}` with the secret key, a
 *   different one of the users per request, at 32 clients and at 1 client (the time one decision
 *   takes on an idle Worker), next to the empty route at 32 clients on the same `wrangler dev`
 *   (what 32 closed-loop clients cost on this machine whatever the route does).
 */
import { pathToFileURL } from "node:url";
import { loadavg } from "node:os";
import { startOrigin } from "./edge.mjs";
import { startDev } from "./lib/wrangler-dev.mjs";
import { basic, CONNECTIONS, drain, load, pool, SECONDS, trackEvent } from "./http.mjs";

export const DECIDE_USERS = Number(process.env.BENCH_DECIDE_USERS ?? 500);
/** Decide's throughput as a share of the empty route's, and its p99 as a multiple of the empty route's p99. */
export const DECIDE_TARGETS = { throughput: 0.5, p99: 2 };
export const SLOTS = ["hero", "banner"];

const userId = (i) => `decide-user-${i}`;

async function api(dev, method, path, body, auth = { authorization: `Bearer ${dev.adminToken}` }) {
  const res = await fetch(`${dev.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...auth },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}


/**
 * The segment and the two experiences, through the admin API. Returns their ids. Call it on a fresh
 * `wrangler dev`, before any event: segment definitions are cached per isolate for 30 s.
 */
export async function createDecisions(dev) {
  const segment = await api(dev, "POST", "/admin/api/segments", {
    name: "Shoe viewers",
    rule: { event: "Product Viewed", where: [{ property: "category", op: "eq", value: "shoes" }], within: "7d" },
  });
  const hero = await api(dev, "POST", "/admin/api/experiences", {
    name: "Hero for shoe viewers",
    slot: "hero",
    audience: { segment: segment.id },
    priority: 10,
    status: "live",
    variants: [
      { id: "a", weight: 1, content: { text: "New runners for you, {{trait.firstName|there}}" } },
      { id: "b", weight: 1, content: { html: "<h1>Shoes, <em>{{trait.firstName|friend}}</em></h1><p>Up to 30% off this week.</p>" } },
    ],
  });
  const banner = await api(dev, "POST", "/admin/api/experiences", {
    name: "Banner for people (not bots)",
    slot: "banner",
    audience: { rule: { context: "device.type", op: "neq", value: "bot" } },
    status: "live",
    variants: [{ id: "sale", weight: 1, content: { attributes: { class: "promo", "data-variant": "sale" } } }],
  });
  return { segment: segment.id, hero: hero.id, banner: banner.id };
}

const decideBody = (i) => ({ slots: SLOTS, userId: userId(i) });

/**
 * Warms `DECIDE_USERS` profiles and decides each once; returns what two of them were decided (one
 * in the segment, one not) so the table can show the decisions are real.
 */
export async function warmProfiles(dev, log = console.error) {
  const auth = basic(dev.secretKey);
  log(`  warming ${DECIDE_USERS} profiles (POST /v1/track, then one decide each)`);
  await pool(DECIDE_USERS, 16, async (i) => {
    const event = trackEvent(userId(i));
    event.properties.category = i % 2 === 0 ? "shoes" : "bags";
    await api(dev, "POST", "/v1/track", event, auth);
  });
  await pool(DECIDE_USERS, 16, (i) => api(dev, "POST", "/v1/decide", decideBody(i), auth));
  const member = await api(dev, "POST", "/v1/decide", decideBody(0), auth);
  const other = await api(dev, "POST", "/v1/decide", decideBody(1), auth);
  const drained = await drain(dev);
  return { member: member.decisions, nonMember: other.decisions, drainSeconds: drained };
}

/** The decide figures; `decisions` from createDecisions, after warmProfiles. */
export async function benchDecide(dev, log = console.error) {
  const auth = basic(dev.secretKey);
  let n = 0;
  const body = () => decideBody(n++ % DECIDE_USERS);
  const step = (label, path, make, connections) => {
    log(`  ${label} (${SECONDS} s, ${connections} connection${connections === 1 ? "" : "s"})`);
    return load(dev.url, path, auth, make, { connections });
  };
  await load(dev.url, "/v1/decide", auth, body, { seconds: 2 });
  const empty = await step("POST /healthz (empty route)", "/healthz", body, CONNECTIONS);
  const decide = await step("POST /v1/decide", "/v1/decide", body, CONNECTIONS);
  const single = await step("POST /v1/decide", "/v1/decide", body, 1);
  return { users: DECIDE_USERS, slots: SLOTS, empty, decide, single, targets: DECIDE_TARGETS };
}

/** `node test/bench/decide.mjs`: the decide figures alone (on a wrangler dev of their own, as in run.mjs). */
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const origin = await startOrigin();
  const dev = await startDev({ vars: { EDGE_ORIGIN: origin.url } });
  try {
    console.log(`load average before: ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);
    await createDecisions(dev);
    await warmProfiles(dev);
    const d = await benchDecide(dev);
    const tput = d.decide.rps / d.empty.rps;
    const tail = d.decide.latency.p99 / d.empty.latency.p99;
    console.log(`empty ${Math.round(d.empty.rps)} req/s, p99 ${d.empty.latency.p99} ms; decide ${Math.round(d.decide.rps)} req/s = ${tput.toFixed(2)}×, p50 / p99 ${d.decide.latency.p50} / ${d.decide.latency.p99} ms = ${tail.toFixed(2)}× (targets ≥ ${DECIDE_TARGETS.throughput}×, ≤ ${DECIDE_TARGETS.p99}×); 1 client p50 / p99 ${d.single.latency.p50} / ${d.single.latency.p99} ms`);
    console.log(`load average after: ${loadavg().map((n) => n.toFixed(2)).join(" ")}`);
  } finally {
    await dev.stop();
    await origin.stop();
  }
}
