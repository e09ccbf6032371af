/**
 * Where a request's time goes: a V8 CPU profile of `wrangler dev`'s Worker taken through its
 * inspector (`--inspector-port`, the Chrome DevTools Protocol over Node's global WebSocket) while a
 * load runs. In local dev the Worker and its Durable Objects (ProfileStore) run in the one workerd
 * isolate the inspector exposes, so one profile holds both; functions are attributed to the source
 * module of the bundle they sit in (esbuild marks each module with a `// path` comment), which
 * tells the Worker's side (http/, flows/, collect/, …) from the object's (profile/, drizzle's
 * durable-sqlite driver, segments/).
 *
 * Returns the sampled time split into idle / program / GC / JavaScript, and the top functions by
 * self time and by total time (a function's own time plus what it called, each sample once), and
 * the top modules by self time.
 *
 * `node test/bench/cpu-profile.mjs` runs the collection figures (http.mjs) and these profiles alone;
 * with `BENCH_PROFILE_DIR=dir` each whole profile is written there too (`.cpuprofile`, for DevTools).
 */
import { pathToFileURL } from "node:url";
import { loadavg } from "node:os";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { basic, benchHttp, CONNECTIONS, drain, load, nextId, RETURNING_USERS, SECONDS, trackEvent } from "./http.mjs";
import { startDev } from "./lib/wrangler-dev.mjs";

/** One inspector session: `send(method, params)` answers with the result. */
async function connect(inspectorPort) {
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets[0];
  if (!target?.webSocketDebuggerUrl) throw new Error(`no inspector target on port ${inspectorPort}`);
  // The inspector proxy of wrangler dev only takes a local Origin.
  const ws = new WebSocket(target.webSocketDebuggerUrl, { headers: { origin: "http://localhost" } });
  await new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", () => reject(new Error("inspector websocket failed")), { once: true });
  });
  let id = 0;
  const pending = new Map();
  ws.addEventListener("message", (message) => {
    const data = JSON.parse(String(message.data));
    const waiting = data.id === undefined ? undefined : pending.get(data.id);
    if (!waiting) return;
    pending.delete(data.id);
    if (data.error) waiting.reject(new Error(`${waiting.method}: ${data.error.message}`));
    else waiting.resolve(data.result);
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const callId = ++id;
      pending.set(callId, { resolve, reject, method });
      ws.send(JSON.stringify({ id: callId, method, params }));
    });
  return { send, close: () => ws.close() };
}

/** For a bundled script's source: line → the module (`// worker/…` marker) it belongs to. */
function moduleLines(source) {
  const marks = [];
  source.split("\n").forEach((line, i) => {
    const m = /^\/\/ ((?:node_modules\/|worker\/|\.\.\/)\S+\.(?:m?js|ts|cjs))$/.exec(line);
    if (m) marks.push({ line: i, module: m[1].replace(/^(\.\.\/)+/, "").replace(/^.*node_modules\//, "npm:") });
  });
  return (line) => {
    let lo = 0;
    let hi = marks.length - 1;
    let found = "?";
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (marks[mid].line <= line) {
        found = marks[mid].module;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}

const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/** Summarises a Profiler.stop profile; `moduleOf(scriptId, line)` names a frame's module. */
export function summarise(profile, moduleOf, top = 15) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = new Map();
  for (const n of profile.nodes) {
    const f = n.callFrame;
    const name = f.functionName || "(anonymous)";
    if (SPECIAL.has(name)) keyOf.set(n.id, { key: name, name, module: "" });
    else {
      const module = f.url ? moduleOf(f.scriptId, f.lineNumber) : "(native)";
      // The line is the bundle's (it tells two anonymous functions of one module apart).
      keyOf.set(n.id, { key: `${name} ${module} @${f.lineNumber + 1}`, name, module });
    }
  }
  const self = new Map();
  const total = new Map();
  /** For native frames (whose own time is often the call they make for JS): the JS frame that called them. */
  const callers = new Map();
  const modules = new Map();
  const buckets = { idle: 0, program: 0, gc: 0, js: 0 };
  let sampled = 0;
  const add = (map, key, us) => map.set(key, (map.get(key) ?? 0) + us);
  profile.samples.forEach((nodeId, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0;
    sampled += us;
    const k = keyOf.get(nodeId);
    if (k.key === "(idle)") return void (buckets.idle += us);
    if (k.key === "(program)") return void (buckets.program += us);
    if (k.key === "(garbage collector)") return void (buckets.gc += us);
    buckets.js += us;
    add(self, k.key, us);
    add(modules, k.module, us);
    if (k.module === "(native)") {
      let up = parent.get(nodeId);
      while (up !== undefined && keyOf.get(up).module === "(native)") up = parent.get(up);
      const by = callers.get(k.key) ?? new Map();
      add(by, up === undefined ? "(root)" : keyOf.get(up).key, us);
      callers.set(k.key, by);
    }
    const seen = new Set();
    for (let id = nodeId; id !== undefined; id = parent.get(id)) {
      const key = keyOf.get(id).key;
      if (SPECIAL.has(key) || seen.has(key)) continue;
      seen.add(key);
      add(total, key, us);
    }
  });
  const busy = buckets.js + buckets.program + buckets.gc;
  const rank = (map) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => ({ key, ms: Math.round(us / 1000), share: busy ? us / busy : 0 }));
  void nodes;
  return {
    sampledMs: Math.round(sampled / 1000),
    busyMs: Math.round(busy / 1000),
    split: Object.fromEntries(Object.entries(buckets).map(([k, us]) => [k, Math.round(us / 1000)])),
    self: rank(self).map((r) => (callers.has(r.key) ? { ...r, from: rank(callers.get(r.key)).slice(0, 3) } : r)),
    total: rank(total),
    modules: rank(modules),
  };
}

/** Profiles the Worker (and its objects) while `during()` runs; returns summarise()'s answer. */
export async function cpuProfile(dev, during, { top = 15, intervalUs = 200, keep = true } = {}) {
  const inspector = await connect(dev.inspectorPort);
  try {
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: intervalUs });
    await inspector.send("Profiler.start");
    let load;
    try {
      load = await during();
    } finally {
      var { profile } = await inspector.send("Profiler.stop");
    }
    // Script sources only now (the debugger is not on while the load runs), and only for a summary with functions.
    await inspector.send("Debugger.enable");
    const sources = new Map();
    for (const scriptId of top > 0 ? new Set(profile.nodes.map((n) => n.callFrame.scriptId).filter((id) => id && id !== "0")) : []) {
      try {
        const { scriptSource } = await inspector.send("Debugger.getScriptSource", { scriptId });
        sources.set(scriptId, moduleLines(scriptSource));
      } catch {
        // A script the debugger does not know (native): no module.
      }
    }
    await inspector.send("Debugger.disable");
    await inspector.send("Profiler.disable");
    const moduleOf = (scriptId, line) => sources.get(scriptId)?.(line) ?? "?";
    // BENCH_PROFILE_DIR: the whole profile is kept too (each frame with its module), for DevTools or a script.
    if (process.env.BENCH_PROFILE_DIR && keep) {
      for (const n of profile.nodes) n.callFrame.module = n.callFrame.url ? moduleOf(n.callFrame.scriptId, n.callFrame.lineNumber) : "(native)";
      mkdirSync(process.env.BENCH_PROFILE_DIR, { recursive: true });
      const file = join(process.env.BENCH_PROFILE_DIR, `${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      console.error(`  CPU profile written to ${file}`);
    }
    return { load, ...summarise(profile, moduleOf, top) };
  } finally {
    inspector.close();
  }
}

/** The summary as lines for the terminal. */
export function formatProfile(label, p) {
  const pct = (share) => `${(share * 100).toFixed(1)}%`.padStart(6);
  const lines = [`CPU profile: ${label} — ${p.busyMs} ms busy of ${p.sampledMs} ms sampled (JS ${p.split.js} ms, program ${p.split.program} ms, GC ${p.split.gc} ms, idle ${p.split.idle} ms)`];
  lines.push("  top functions by self time (share of busy time):");
  for (const r of p.self) {
    lines.push(`   ${pct(r.share)}  ${r.key}`);
    for (const f of r.from ?? []) lines.push(`            ${pct(f.share)} from ${f.key}`);
  }
  lines.push("  top functions by total time (self + callees):");
  for (const r of p.total) lines.push(`   ${pct(r.share)}  ${r.key}`);
  lines.push("  modules by self time:");
  for (const r of p.modules) lines.push(`   ${pct(r.share)}  ${r.key}`);
  return lines.join("\n");
}

/** Waits (up to a minute) until the isolate is idle for 90% of a second; returns the last idle share. */
export async function settle(dev, { timeoutMs = 60_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await cpuProfile(dev, () => new Promise((r) => setTimeout(r, 1000)), { top: 0, intervalUs: 1000, keep: false });
    const idle = p.sampledMs > 0 ? p.split.idle / p.sampledMs : 1;
    if (idle >= 0.9 || Date.now() > deadline) return idle;
  }
}

/**
 * The collection path's profiles, after benchHttp (whose warm-up created the returning visitors):
 * returning visitors, then new visitors, each under the same load as the measured runs.
 */
export async function profileHttp(dev, log = console.error, seconds = Math.min(SECONDS, 5)) {
  const auth = basic(dev.secretKey);
  let turn = 0;
  const runs = [
    { label: `POST /healthz (empty route), ${CONNECTIONS} clients`, path: "/healthz", body: () => trackEvent(`u-${nextId()}`) },
    { label: `POST /v1/track, returning visitors, ${CONNECTIONS} clients`, path: "/v1/track", body: () => trackEvent(`u-returning-${turn++ % RETURNING_USERS}`) },
    { label: `POST /v1/track, new visitors, ${CONNECTIONS} clients`, path: "/v1/track", body: () => trackEvent(`u-${nextId()}`) },
  ];
  const profiles = [];
  for (const run of runs) {
    // The queue consumer may still be working off an earlier run's backlog: its work would be
    // counted against this run's requests.
    const idle = await settle(dev);
    log(`  CPU profile: ${run.label} (${seconds} s; the isolate was ${Math.round(idle * 100)}% idle before)`);
    const p = await cpuProfile(dev, () => load(dev.url, run.path, auth, run.body, { seconds }));
    // The isolate's busy time per answered request: steadier than req/s on a shared machine (the
    // load generator's share of the cores drops out), and the queue consumer's work is in it.
    const busyPerRequest = p.load.ok > 0 ? p.busyMs / p.load.ok : undefined;
    profiles.push({ label: `${run.label}, ${Math.round(p.load.rps)} req/s while profiled, ${busyPerRequest?.toFixed(2) ?? "?"} ms busy a request`, path: run.path, busyPerRequest, ...p, load: undefined });
    if (run.path !== "/healthz") await drain(dev);
  }
  return profiles;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const dev = await startDev({});
  try {
    const load = () => loadavg().map((n) => n.toFixed(2)).join(" ");
    console.log(`load average before: ${load()}`);
    const h = await benchHttp(dev);
    const r = (x) => `${Math.round(x.rps)} req/s = ${x.ratio.toFixed(2)}×`;
    console.log(`empty ${Math.round(h.empty.rps)} req/s (${Math.round(h.empty.first.rps)} then ${Math.round(h.empty.second.rps)})`);
    console.log(`track returning ${r(h.trackReturning)}, new ${r(h.trackNew)}, hot ${r(h.trackHot)}`);
    for (const b of h.batches) console.log(`batch × ${b.size}: ${Math.round(b.eventsPerSec)} events/s = ${b.vsSingle.toFixed(1)}× single (${b.non2xx} non-2xx)`);
    if (process.env.BENCH_PROFILE !== "0") {
      const profiles = await profileHttp(dev);
      for (const p of profiles) console.log(`\n${formatProfile(p.label, p)}`);
      const [empty, ...tracks] = profiles;
      for (const p of tracks) if (empty.busyPerRequest && p.busyPerRequest) console.log(`busy a request: ${p.path} ${p.busyPerRequest.toFixed(2)} ms = ${(empty.busyPerRequest / p.busyPerRequest).toFixed(2)}× the empty route's ${empty.busyPerRequest.toFixed(2)} ms (${p.label})`);
    }
    console.log(`load average after: ${load()}`);
  } finally {
    await dev.stop();
  }
}
