/**
 * `npm run bench`: every figure of DESIGN.md §5, each next to its target. A figure that misses its
 * target is printed as a miss (and the run still completes): the table is the report. Writes
 * test/bench/results/latest.json (gitignored) and ends with a markdown table for the README.
 *
 * Env: BENCH_SECONDS (per autocannon run, default 10), BENCH_CONNECTIONS (default 32),
 * BENCH_SKIP_PEERS=1 (tag size of Cohort only), BENCH_KEEP=1 (keep wrangler's state and log), BENCH_STATE_DIR (where that state lives: /dev/shm by default, see lib/wrangler-dev.mjs),
 * BENCH_DECIDE_USERS (profiles decided for, default 500).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { benchBundle } from "./bundle.mjs";
import { benchDashboardSize } from "./dashboard-size.mjs";
import { execFileSync } from "node:child_process";
import { formatProfile, profileHttp } from "./cpu-profile.mjs";
import { benchDecide, createDecisions, DECIDE_TARGETS, warmProfiles } from "./decide.mjs";
import { benchDestinations, LATENCY_P50_TARGET_MS } from "./destinations.mjs";
import { benchEdge, startOrigin } from "./edge.mjs";
import { benchHostile } from "./hostile.mjs";
import { benchFloor, ceiling } from "./floor.mjs";
import { benchHttp, CONNECTIONS } from "./http.mjs";
import { root, startDev, stateRoot } from "./lib/wrangler-dev.mjs";
import { benchTagSize } from "./tag-size.mjs";

const log = (...args) => console.error(...args);
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const int = (n) => Math.round(n).toLocaleString("en-US");
const rows = [];
/** One row of the table: figure, value, target, and pass / miss / info. */
const row = (figure, value, target = "", verdict = "") => rows.push({ figure, value, target, verdict });
const verdict = (ok) => (ok ? "pass" : "MISS");
function git(args) {
  try {
    return execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return "";
  }
}

const machine = {
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? "unknown",
  memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  // Other work on the machine skews the absolute figures (the ratios less so): shown, not hidden.
  loadBefore: loadavg().map((n) => n.toFixed(2)).join(" "),
  commit: git(["rev-parse", "--short", "HEAD"]),
  // Uncommitted changes to what the Worker runs from are measured too: say so.
  dirty: git(["status", "--porcelain", "--", "worker", "wrangler.toml", "migrations", "public"]) !== "",
  /** Where wrangler dev's D1 and Durable Object files live (lib/wrangler-dev.mjs stateRoot). */
  state: stateRoot(),
};
const results = { at: new Date().toISOString(), machine };
log(`Cohort bench on ${machine.cores} cores (${machine.cpu}), Node ${machine.node}`);

// 1. Tag size.
log("tag size: building the tag, bundling the peers");
results.tag = await benchTagSize();
row("tag size, gzip -9 (Cohort t.js)", `${int(results.tag.cohort.gzip)} B`, `≤ ${int(results.tag.cohort.budget)} B`, verdict(results.tag.cohort.gzip <= results.tag.cohort.budget));
for (const peer of results.tag.peers) {
  if (peer.error) row(`tag size, ${peer.name}`, `error: ${peer.error}`, "", "info");
  else row(`tag size, ${peer.name} ${peer.version}`, `${int(peer.gzip)} B (${(peer.gzip / results.tag.cohort.gzip).toFixed(1)}× Cohort)`, "", "info");
}

// 1b. Dashboard first load.
log("dashboard: building, measuring the first load");
try {
  results.dashboard = benchDashboardSize();
  const d = results.dashboard;
  row("dashboard first load, JavaScript gzip -9", `${kb(d.js.gzip)} (${kb(d.js.bytes)} raw; CSS ${kb(d.css.gzip)} gzip)`, `≤ ${kb(d.budget)}`, verdict(d.js.gzip <= d.budget));
} catch (error) {
  results.dashboard = { error: String(error.message ?? error) };
  row("dashboard first load", "error (see latest.json)", "≤ 150 KB", "MISS");
}

// 2. Worker bundle.
log("worker bundle: wrangler deploy --dry-run");
try {
  results.bundle = await benchBundle();
  const b = results.bundle;
  row("Worker bundle, gzip (wrangler deploy --dry-run)", `${kb(b.gzip)} (${kb(b.bytes)} raw)`, `≤ ${kb(b.freeLimit)} free / ${kb(b.paidLimit)} paid`, verdict(b.gzip <= b.freeLimit));
} catch (error) {
  results.bundle = { error: String(error.message ?? error) };
  row("Worker bundle", "error (see latest.json)", "≤ 3 MB free plan", "MISS");
}

// 3. HTTP figures against wrangler dev.
log("http: starting wrangler dev (offline, fresh state)");
let dev;
try {
  dev = await startDev({ keep: Boolean(process.env.BENCH_KEEP) });
  results.http = await benchHttp(dev, log);
  const h = results.http;
  const errs = (r) => (r.non2xx + r.errors > 0 ? `, ${r.non2xx} non-2xx, ${r.errors} errors` : "");
  const t = h.targets;
  const ratioRow = (label, r, target) => row(label, `${int(r.rps)} = ${r.ratio.toFixed(2)}× empty${errs(r)}`, `≥ ${target}×`, verdict(r.ratio >= target && r.non2xx + r.errors === 0));
  row(`POST /healthz (empty route), req/s`, `${int(h.empty.rps)} (${int(h.empty.first.rps)} then ${int(h.empty.second.rps)})`, "baseline", "info");
  ratioRow(`POST /v1/track, returning visitors (${h.returningUsers} profiles), req/s`, h.trackReturning, t.returning);
  ratioRow("POST /v1/track, new visitors (a new profile each), req/s", h.trackNew, t.new);
  ratioRow("POST /v1/track, one hot profile, req/s", h.trackHot, t.hot);
  row("queue → D1 caught up after the track runs", `${h.drains.afterTrackReturning ?? "timeout"} s (returning), ${h.drains.afterTrackNew ?? "timeout"} s (new), ${h.drains.afterTrackHot ?? "timeout"} s (hot)`, "", "info");
  row("POST /v1/track, returning / new visitors, latency p50 / p99", `${h.trackReturning.latency.p50} / ${h.trackReturning.latency.p99} ms, ${h.trackNew.latency.p50} / ${h.trackNew.latency.p99} ms`, "", "info");
  for (const b of h.batches) {
    const value = `${int(b.eventsPerSec)} = ${b.vsSingle.toFixed(1)}× single events (${int(b.rps)} req/s, p99 ${b.latency.p99} ms, queue drained ${b.drainSeconds ?? "?"} s later${errs(b)})`;
    if (b.size === 100) row(`POST /v1/batch × ${b.size}, events/s`, value, `≥ ${t.batch100}× single`, verdict(b.vsSingle >= t.batch100 && b.non2xx + b.errors === 0));
    else row(`POST /v1/batch × ${b.size}, events/s`, value, "", b.non2xx + b.errors > 0 ? "MISS" : "info");
  }
  // Where the time goes: a CPU profile of the Worker and its objects under the same loads (not timed figures).
  results.profiles = await profileHttp(dev, log);
  const busy = results.profiles.map((p) => p.busyPerRequest);
  if (busy.every((ms) => ms > 0)) {
    const [empty, returning, fresh] = busy;
    row("isolate busy ms a request (CPU profile): empty / track returning / track new", `${empty.toFixed(2)} / ${returning.toFixed(2)} (${(empty / returning).toFixed(2)}×) / ${fresh.toFixed(2)} (${(empty / fresh).toFixed(2)}×)`, "", "info");
  }
} catch (error) {
  results.http = { error: String(error.stack ?? error) };
  log(error);
  row("HTTP figures (wrangler dev)", "error (see latest.json)", "", "MISS");
} finally {
  await dev?.stop();
}

// 3b. The platform's floor: what track's platform calls alone reach on the same simulation (the
// ceiling of each track ratio above), on a Worker of its own with none of Cohort's logic.
log("floor: starting wrangler dev on test/bench/floor (offline, fresh state)");
try {
  results.floor = await benchFloor(log);
  const f = results.floor;
  const errs = (r) => (r.non2xx > 0 ? `, ${r.non2xx} non-2xx` : "");
  row("floor: POST /healthz on the floor Worker, req/s", `${int(f.empty.rps)} (${int(f.empty.first)} then ${int(f.empty.second)})`, "baseline", "info");
  // The same calls on Cohort's empty route (measured above): the most each track figure could reach.
  const cohortEmpty = results.http?.empty?.rps;
  const onCohort = (r) => (cohortEmpty ? `, at most ${ceiling(cohortEmpty, r.addedMs).toFixed(2)}× on Cohort's empty route` : "");
  for (const r of f.routes) row(`floor: ${r.name}, req/s`, `${int(r.rps)} = ${r.ratio.toFixed(2)}× its empty route, +${r.addedMs.toFixed(2)} ms a request${onCohort(r)}${errs(r)}`, "", r.non2xx > 0 ? "MISS" : "info");
} catch (error) {
  results.floor = { error: String(error.stack ?? error) };
  log(error);
  row("floor figures (wrangler dev)", "error (see latest.json)", "", "MISS");
}

// 4. Decide latency and the edge route, on a wrangler dev of their own in front of a local origin.
log("decide and edge: starting a local origin and wrangler dev with EDGE_ORIGIN (fresh state)");
let origin;
dev = undefined;
try {
  origin = await startOrigin();
  dev = await startDev({ keep: Boolean(process.env.BENCH_KEEP), vars: { EDGE_ORIGIN: origin.url } });
  results.decisions = { ids: await createDecisions(dev) };
  results.decisions.warm = await warmProfiles(dev, log);
  results.decide = await benchDecide(dev, log);
  const d = results.decide;
  const errs = (r) => (r.non2xx + r.errors > 0 ? `, ${r.non2xx} non-2xx, ${r.errors} errors` : "");
  const lat = (r) => `${r.latency.p50} / ${r.latency.p99} ms`;
  const warm = results.decisions.warm;
  const shows = (decisions) => Object.keys(decisions ?? {}).join(" + ") || "nothing";
  const tput = d.decide.rps / d.empty.rps;
  const tail = d.decide.latency.p99 / d.empty.latency.p99;
  row(
    `POST /v1/decide (hero by segment, banner by context) at ${d.decide.connections} clients, vs the empty route`,
    `${int(d.decide.rps)} req/s = ${tput.toFixed(2)}× empty; p50 / p99 ${lat(d.decide)} = ${tail.toFixed(2)}× empty's p99${errs(d.decide)}`,
    `≥ ${DECIDE_TARGETS.throughput}× req/s, p99 ≤ ${DECIDE_TARGETS.p99}× empty's`,
    verdict(tput >= DECIDE_TARGETS.throughput && tail <= DECIDE_TARGETS.p99 && d.decide.non2xx + d.decide.errors === 0),
  );
  row("POST /v1/decide, p50 / p99 at 1 client", `${lat(d.single)}, ${int(d.single.rps)} req/s${errs(d.single)}`, "", "info");
  row(`POST /healthz (empty route) on the same wrangler dev, p50 / p99 at ${d.empty.connections} clients`, `${lat(d.empty)}, ${int(d.empty.rps)} req/s`, "", "info");
  row("decide answers (segment member / non-member)", `${shows(warm.member)} / ${shows(warm.nonMember)} (${d.users} profiles)`, "hero + banner / banner", verdict(shows(warm.member) === "hero + banner" && shows(warm.nonMember) === "banner"));

  log("edge: 100 KB page, direct and through the Worker");
  results.edge = await benchEdge(dev, origin, log);
  const e = results.edge;
  const page = kb(e.pageBytes["/slots.html"]);
  const get = (r) => `${int(r.rps)} req/s, ${lat(r)}${errs(r)}`;
  const c = e.checks;
  const works = c.personalised.slotsDone === 3 && c.personalised.tagInjected && c.tagOnly.tagInjected && c.passThrough.identical;
  row(`GET ${page} page from the origin directly (no Worker)`, get(e.direct), "baseline", "info");
  row(`GET ${page} page via Worker, 3 slots personalised + tag`, get(e.personalised), "", works ? "info" : "MISS");
  row(`GET ${page} page via Worker, no slots (tag injected)`, get(e.tagOnly), "", "info");
  row(`GET ${page} text/plain via Worker (pass-through)`, get(e.passThrough), "", "info");
  row(
    "edge personalisation, added p50 / p99 vs pass-through",
    `${e.added.p50} / ${e.added.p99} ms at ${e.personalised.connections} clients; ${e.added.singleP50} / ${e.added.singleP99} ms at 1 client (${lat(e.personalisedSingle)} vs ${lat(e.passThroughSingle)})`,
    "",
    "info",
  );
} catch (error) {
  results.decide ??= { error: String(error.stack ?? error) };
  results.edge ??= { error: String(error.stack ?? error) };
  log(error);
  row("decide / edge figures (wrangler dev)", "error (see latest.json)", "", "MISS");
} finally {
  await dev?.stop();
  await origin?.stop();
}

// Destinations: event → webhook latency, deliveries/s, a half-failing endpoint (test/bench/destinations.mjs).
try {
  const d = (results.destinations = await benchDestinations(log));
  row("event → webhook latency p50 / p99 (one event every 50 ms)", `${d.latency.p50} / ${d.latency.p99} ms (${d.latency.arrived}/${d.latency.events} arrived)`, `p50 ≤ ${LATENCY_P50_TARGET_MS} ms`, verdict(d.latency.p50 <= LATENCY_P50_TARGET_MS && d.latency.arrived === d.latency.events));
  row("webhook deliveries/s (burst through /v1/batch)", `${int(d.burst.deliveriesPerSecond)} (${d.burst.arrived}/${d.burst.events} in ${d.burst.seconds} s)`, "", d.burst.complete ? "info" : "MISS");
  row("endpoint failing half its requests: arrived, acknowledged twice", `${d.flaky.arrived}/${d.flaky.events}, ${d.flaky.ackedTwice} twice (${Math.round(d.flaky.failedShare * 100)}% of requests failed)`, "all, none twice", verdict(d.flaky.arrived === d.flaky.events && d.flaky.ackedTwice === 0));
} catch (error) {
  results.destinations = { error: String(error.stack ?? error) };
  row("destinations (wrangler dev)", "error (see latest.json)", "", "MISS");
}

// 4b. Hostile input: the worst CPU time per request (test/bench/hostile.mjs), on a wrangler dev of its own.
log("hostile input: consent strings, large batches, templates (fresh state)");
dev = undefined;
try {
  dev = await startDev({ keep: Boolean(process.env.BENCH_KEEP) });
  results.hostile = await benchHostile(dev, log);
  for (const r of results.hostile.rows) {
    const value = `worst ${r.worstCpuMs} ms CPU (median ${r.medianCpuMs}), /healthz meanwhile ≤ ${r.worstHealthMs} ms, ${r.statuses.join("/")}`;
    row(`hostile: ${r.name}`, value, r.hostile ? `≤ ${results.hostile.targetCpuMs} ms CPU` : "", r.hostile ? verdict(r.worstCpuMs <= results.hostile.targetCpuMs && r.statuses.every((s) => s < 500)) : "info");
  }
} catch (error) {
  results.hostile = { error: String(error.stack ?? error) };
  log(error);
  row("hostile input (wrangler dev)", "error (see latest.json)", "", "MISS");
} finally {
  await dev?.stop();
}

// 5. Segment rule evaluation (test/bench/segments.mjs, owned by the segments work).
const segmentsFile = join(root, "test/bench/segments.mjs");
if (existsSync(segmentsFile)) {
  log("segments: rule evaluation vs GrowthBook and json-logic-js");
  try {
    const { benchSegments } = await import(pathToFileURL(segmentsFile).href);
    results.segments = await benchSegments();
    const target = results.segments.target ?? 2;
    for (const r of results.segments.rows) {
      const ok = r.ratioVsGrowthbook >= target && r.ratioVsJsonLogic >= target;
      row(
        `segment rule "${r.name}", evals/s`,
        `${int(r.cohortOpsPerSec)} = ${r.ratioVsGrowthbook.toFixed(1)}× GrowthBook, ${r.ratioVsJsonLogic.toFixed(1)}× json-logic`,
        `≥ ${target}× both`,
        verdict(ok),
      );
    }
  } catch (error) {
    results.segments = { error: String(error.stack ?? error) };
    row("segment rule evaluation", `error: ${String(error.message ?? error).split("\n")[0]}`, "≥ 2× both", "MISS");
  }
} else {
  results.segments = { built: false };
  row("segment rule evaluation", "segments: not built yet", "≥ 2× GrowthBook and json-logic", "n/a");
}

results.reports = await (await import("./reports.mjs")).benchStep(row, log); // 6. Reports over the rollups of 1M events.
results.sdk = await (await import("./sdk.mjs")).benchStep(row, log); // 6b. The browser SDKs' path (README "One browser, one profile").
results.predictions = await (await import("./predictions.mjs")).benchStep(row, log); // 7. Prediction training and scoring.
results.imports = await (await import("./imports.mjs")).benchStep(row, log); // 8. An import of 100,000 CSV rows.

machine.loadAfter = loadavg().map((n) => n.toFixed(2)).join(" ");
results.rows = rows;
mkdirSync(join(root, "test/bench/results"), { recursive: true });
writeFileSync(join(root, "test/bench/results/latest.json"), `${JSON.stringify(results, null, 2)}\n`);

// The table, for the terminal.
const headers = ["figure", "value", "target", ""];
const cells = rows.map((r) => [r.figure, r.value, r.target, r.verdict]);
const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => String(c[i]).length)));
const line = (c) => c.map((v, i) => String(v).padEnd(widths[i])).join("  ");
const at = `${machine.commit}${machine.dirty ? " + uncommitted Worker changes" : ""}`;
console.log(`\nCohort bench (${at}) — ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, load average ${machine.loadBefore} → ${machine.loadAfter}, ${results.http?.seconds ?? "?"} s × ${CONNECTIONS} connections per run, wrangler dev state in ${machine.state}\n`);
console.log(line(headers));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const c of cells) console.log(line(c));

// The same, as markdown for the README's performance section.
const md = [
  `Measured ${results.at.slice(0, 10)} at ${at} on ${machine.cores} cores (${machine.cpu}, load average ${machine.loadBefore} → ${machine.loadAfter}), Node ${machine.node}, \`wrangler dev\` local (state in \`${machine.state}\`); ${results.http?.seconds ?? "?"} s × ${CONNECTIONS} connections per run (autocannon).`,
  "",
  "| figure | value | target | |",
  "| --- | --- | --- | --- |",
  ...cells.map((c) => `| ${c.map((v) => String(v).replace(/\|/g, "\\|")).join(" | ")} |`),
];
console.log(`\nMarkdown (for the README):\n\n${md.join("\n")}\n`);
console.log("Full figures: test/bench/results/latest.json");
for (const p of results.profiles ?? []) console.log(`\n${formatProfile(p.label, p)}`);
const misses = rows.filter((r) => r.verdict === "MISS").length;
if (misses) console.log(`${misses} figure(s) miss their target.`);
