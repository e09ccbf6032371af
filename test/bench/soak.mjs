/**
 * `npm run soak` (not in CI): sustained load against a fresh `wrangler dev` for SOAK_SECONDS
 * (default 300), reporting errors, the resident memory of wrangler dev's process group (wrangler
 * and workerd) over time, and throughput drift between the first and the last minute (or fifth, for
 * runs shorter than five minutes). The load mixes what real traffic sends: single events over many
 * profiles, a hot profile, and batches of 20.
 *
 * Env: SOAK_SECONDS (default 300), SOAK_CONNECTIONS (default 16), SOAK_SAMPLE_SECONDS (default 10).
 */
import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import { drain, nextId, trackEvent } from "./http.mjs";
import { groupRss, startDev } from "./lib/wrangler-dev.mjs";

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 16);
const SAMPLE = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const mb = (bytes) => (bytes == null ? "?" : `${(bytes / 2 ** 20).toFixed(0)} MB`);

const dev = await startDev({ keep: Boolean(process.env.SOAK_KEEP) });
console.error(`soak: ${SECONDS} s, ${CONNECTIONS} connections against ${dev.url} (state in ${dev.dir})`);
const auth = `Basic ${Buffer.from(`${dev.secretKey}:`).toString("base64")}`;

/** Per-second buckets of answers, by status class. */
const seconds = [];
/** Answers by status code. */
const statuses = {};
const started = Date.now();
const bucket = () => {
  const i = Math.floor((Date.now() - started) / 1000);
  return (seconds[i] ??= { ok: 0, non2xx: 0 });
};
const samples = [{ at: 0, rss: groupRss(dev.child) }];
const sampler = setInterval(() => {
  samples.push({ at: Math.round((Date.now() - started) / 1000), rss: groupRss(dev.child) });
}, SAMPLE * 1000);

let kind = 0;
let result;
try {
  const instance = autocannon({
    url: dev.url,
    connections: CONNECTIONS,
    duration: SECONDS,
    method: "POST",
    headers: { "content-type": "application/json", authorization: auth },
    requests: [
      {
        setupRequest(request) {
          // 3 in 5 single events over many profiles, 1 in 5 to one hot profile, 1 in 5 a batch of 20.
          const k = kind++ % 5;
          if (k === 4) {
            const userId = `u-${nextId()}`;
            request.path = "/v1/batch";
            request.body = JSON.stringify({ batch: Array.from({ length: 20 }, () => ({ type: "track", ...trackEvent(userId) })) });
          } else {
            request.path = "/v1/track";
            request.body = JSON.stringify(trackEvent(k === 3 ? "u-hot" : `u-${nextId()}`));
          }
          return request;
        },
      },
    ],
  });
  instance.on("response", (_client, status) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    const b = bucket();
    if (status >= 200 && status < 300) b.ok++;
    else b.non2xx++;
  });
  result = await instance;
  clearInterval(sampler);
  samples.push({ at: Math.round((Date.now() - started) / 1000), rss: groupRss(dev.child) });

  console.error("soak: load done; waiting for the queue consumer to catch up");
  const drainSeconds = await drain(dev, 600_000);

  const window = SECONDS >= 300 ? 60 : Math.max(1, Math.floor(SECONDS / 5));
  const full = seconds.slice(0, SECONDS).map((b) => b ?? { ok: 0, non2xx: 0 });
  const rate = (slice) => slice.reduce((sum, b) => sum + b.ok, 0) / Math.max(1, slice.length);
  // The first seconds warm the isolate; the first window starts after 5 s of load.
  const first = rate(full.slice(5, 5 + window));
  const last = rate(full.slice(-window));
  const drift = first > 0 ? (last - first) / first : 0;
  const rss0 = samples.find((s) => s.rss != null)?.rss;
  const rssEnd = samples.at(-1)?.rss;
  const rssMax = Math.max(...samples.map((s) => s.rss ?? 0));

  console.log(`\nCohort soak — ${SECONDS} s, ${CONNECTIONS} connections, Node ${process.version}\n`);
  console.log(`requests answered 2xx   ${result["2xx"]}`);
  console.log(`non-2xx answers         ${result.non2xx}${result.non2xx ? ` (by status: ${JSON.stringify(statuses)})` : ""}`);
  console.log(`socket errors/timeouts  ${result.errors} / ${result.timeouts}`);
  console.log(`mean throughput         ${(result["2xx"] / result.duration).toFixed(0)} req/s (latency p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms)`);
  console.log(`throughput drift        first ${window} s ${first.toFixed(0)} req/s → last ${window} s ${last.toFixed(0)} req/s (${(drift * 100).toFixed(1)}%)`);
  console.log(`wrangler dev RSS        start ${mb(rss0)}, end ${mb(rssEnd)}, max ${mb(rssMax)} (process group: wrangler + workerd)`);
  console.log(`queue caught up         ${drainSeconds == null ? "NOT within 10 minutes" : `${drainSeconds} s after the load stopped`}`);
  console.log("\nRSS over time:");
  for (const s of samples) console.log(`  ${String(s.at).padStart(5)} s  ${mb(s.rss)}`);
  console.log("\nthroughput per 10 s (2xx req/s):");
  for (let i = 0; i < full.length; i += 10) {
    const slice = full.slice(i, i + 10);
    const bad = slice.reduce((sum, b) => sum + b.non2xx, 0);
    console.log(`  ${String(i).padStart(5)} s  ${rate(slice).toFixed(0)}${bad ? `  (${bad} non-2xx)` : ""}`);
  }
  if (result.non2xx > 0 || result.errors > 0) {
    const lines = readFileSync(dev.log, "utf8").split("\n").filter((l) => /error|exception/i.test(l));
    console.log(`\nwrangler's log, error lines (${lines.length}; the last 10):`);
    for (const line of lines.slice(-10)) console.log(`  ${line.slice(0, 400)}`);
  }
} finally {
  clearInterval(sampler);
  await dev.stop();
}
if (result && (result.non2xx > 0 || result.errors > 0)) process.exitCode = 1;
