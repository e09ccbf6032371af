// Predictions (DESIGN.md §5): training time over synthetic archives of 10,000 and 100,000
// profiles, the planted signal's AUC, and the scoring cost per event in the profile.
//   node test/bench/predictions.mjs           prints the figures
//   import { benchStep } from "./predictions.mjs"   (run.mjs)
// The trainer (worker/predictions) is bundled with esbuild and run in Node on an in-memory
// node:sqlite database with the D1 schema (migrations/), behind the few D1 calls it makes: the
// same SQL and the same code as the queue job, without workerd's I/O in between.
import { build } from "esbuild";
import { readdirSync, readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath, pathToFileURL } from "node:url";

const DAY = 86_400_000;
export const SCORE_TARGET_MS = 1;
export const SIZES = (process.env.BENCH_PREDICTION_SIZES ?? "10000,100000").split(",").map(Number);

async function loadPredictions() {
  const source = `export { train } from "./worker/predictions/train.ts"; export { scoreProfile, featureEventsOf } from "./worker/predictions/score.ts";`;
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const result = await build({ stdin: { contents: source, resolveDir: root, loader: "ts" }, bundle: true, write: false, format: "esm", platform: "node", logLevel: "silent" });
  return import(`data:text/javascript;base64,${Buffer.from(result.outputFiles[0].text).toString("base64")}`);
}

/** The D1 schema, from the generated migrations, in a fresh in-memory database. */
function archiveDb() {
  const db = new DatabaseSync(":memory:");
  const dir = fileURLToPath(new URL("../../migrations/", import.meta.url));
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    for (const statement of readFileSync(dir + file, "utf8").split("--> statement-breakpoint")) if (statement.trim()) db.exec(statement);
  }
  return db;
}

/** What the trainer calls of D1: prepare → bind → all / first. */
const asD1 = (db) => ({
  prepare(sql) {
    const statement = db.prepare(sql);
    return {
      bind: (...params) => ({
        all: async () => ({ results: statement.all(...params) }),
        first: async () => statement.get(...params) ?? null,
      }),
    };
  },
});

function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const EVENT_NAMES = ["Product Viewed", "Added to Cart", "Search", "Signed Up", "Wishlist Added", "Video Played"];

/** `profiles` visitors, about 10 events each before the cut-off, a planted signal on Product Viewed. */
function fill(db, profiles, now) {
  const rand = seeded(profiles);
  const cutoff = now - 30 * DAY;
  const insert = db.prepare(
    "INSERT INTO events (workspace_id, message_id, site_id, type, name, profile_key, user_id, anonymous_id, bot, timestamp, received_at, payload) VALUES ('ws_bench', ?, 'site_bench', ?, ?, ?, ?, NULL, 0, ?, ?, ?)",
  );
  let rows = 0;
  const add = (user, i, type, name, at, properties, device) => {
    const payload = JSON.stringify({ type, ...(type === "track" ? { event: name } : { name: "Home" }), messageId: `${user}-${i}`, userId: user, timestamp: new Date(at).toISOString(), properties, context: { device: { type: device }, campaign: i === 0 && rand() < 0.3 ? { source: ["google", "newsletter", "facebook"][Math.floor(rand() * 3)] } : {} } });
    insert.run(`${user}-${i}`, type, type === "track" ? name : "Home", `ws_bench:user:${user}`, user, at, at, payload);
    rows++;
  };
  db.exec("BEGIN");
  for (let p = 0; p < profiles; p++) {
    const user = `u${p}`;
    const device = rand() < 0.4 ? "mobile" : "desktop";
    let i = 0;
    const before = () => cutoff - 1 - Math.floor(rand() * 29 * DAY);
    add(user, i++, "page", null, before(), {}, device);
    const views = Math.floor(rand() * 6);
    for (let k = 0; k < views; k++) add(user, i++, "track", "Product Viewed", before(), { category: "shoes" }, device);
    const others = Math.floor(rand() * 8);
    for (let k = 0; k < others; k++) add(user, i++, "track", EVENT_NAMES[1 + Math.floor(rand() * 5)], before(), {}, device);
    if (rand() < (views >= 3 ? 0.8 : 0.08)) add(user, i++, "track", "Order Completed", cutoff + 1 + Math.floor(rand() * 29 * DAY), { revenue: 30 + Math.floor(rand() * 70) }, device);
  }
  db.exec("COMMIT");
  return rows;
}

/** Scoring as the profile does it on an event: its events to feature events, then every model. */
function benchScoring(predictions, model, now) {
  const rand = seeded(42);
  const inputs = Array.from({ length: 1000 }, () => {
    const n = 20 + Math.floor(rand() * 180);
    return Array.from({ length: n }, () => ({ name: EVENT_NAMES[Math.floor(rand() * EVENT_NAMES.length)], type: "track", at: now - Math.floor(rand() * 30 * DAY), properties: { revenue: rand() < 0.1 ? 20 : undefined } }));
  });
  const runs = 20_000;
  let sink = 0;
  for (let i = 0; i < 2000; i++) sink += predictions.scoreProfile([model], { events: predictions.featureEventsOf(inputs[i % 1000]), lastSeen: now, device: "mobile" }, now)[model.id].score;
  const started = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) {
    const events = inputs[i % 1000];
    sink += predictions.scoreProfile([model], { events: predictions.featureEventsOf(events), firstSeen: now - 40 * DAY, lastSeen: now, firstSource: "google", device: "mobile" }, now)[model.id].score;
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { runs, meanMs: ms / runs, eventsPerProfile: "20–200", sink };
}

export async function benchPredictions(log = console.error) {
  const predictions = await loadPredictions();
  const now = Date.now();
  const trainings = [];
  let model;
  for (const size of SIZES) {
    const db = archiveDb();
    log(`predictions: writing a synthetic archive of ${size} profiles`);
    const rows = fill(db, size, now);
    const started = performance.now();
    const result = await predictions.train(asD1(db), "ws_bench", { event: "Order Completed" }, 30 * DAY, now);
    const seconds = (performance.now() - started) / 1000;
    log(`predictions: ${size} profiles (${rows} events) trained in ${seconds.toFixed(1)} s, AUC ${result.metrics.auc}`);
    trainings.push({ profiles: size, events: rows, seconds, status: result.status, auc: result.metrics.auc, features: result.status === "ready" ? result.features.length : 0 });
    if (result.status === "ready") model = { ...result.model, id: "pred_bench", version: 1 };
    db.close();
  }
  const scoring = model ? benchScoring(predictions, model, now) : undefined;
  return { trainings, scoring, target: SCORE_TARGET_MS };
}

/** The bench table's rows (run.mjs). */
export async function benchStep(row, log) {
  try {
    const result = await benchPredictions(log);
    for (const t of result.trainings) {
      row(`prediction training, ${t.profiles.toLocaleString("en-US")} profiles (${t.events.toLocaleString("en-US")} events)`, `${t.seconds.toFixed(1)} s, AUC ${t.auc} (planted signal)`, "AUC ≥ 0.8", t.auc >= 0.8 ? "pass" : "MISS");
    }
    if (result.scoring) {
      row("prediction scoring per event (1 model, 20–200 events)", `${(result.scoring.meanMs * 1000).toFixed(1)} µs`, `≤ ${SCORE_TARGET_MS} ms`, result.scoring.meanMs <= SCORE_TARGET_MS ? "pass" : "MISS");
    }
    return result;
  } catch (error) {
    row("predictions", `error: ${String(error.message ?? error).split("\n")[0]}`, "", "MISS");
    return { error: String(error.stack ?? error) };
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await benchPredictions();
  console.table(result.trainings);
  if (result.scoring) console.log(`scoring: ${(result.scoring.meanMs * 1000).toFixed(1)} µs per event (mean of ${result.scoring.runs}), target ≤ ${SCORE_TARGET_MS} ms`);
}
