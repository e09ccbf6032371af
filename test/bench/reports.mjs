// Reports over the rollups of 1,000,000 archived events (DESIGN.md §5: each answers in ≤ 1 s).
//   node test/bench/reports.mjs          prints a table
//   benchStep(row, log) from run.mjs     adds the rows to the bench table
// The rollups are written directly into the local D1 of a fresh `wrangler dev` (SQL below, generated
// in SQLite), as the queue consumer would leave them after 1,000,000 events: 50,000 visitors × 20
// events over 30 days on one site (pages, product views, carts, orders, exposures), 50 campaigns.
// The queue path itself is covered by test/worker/reports/; going through it here would time the
// consumer, not the reports. Each report is asked 7 times after one warm-up; the median is reported.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { root, startDev } from "./lib/wrangler-dev.mjs";

export const TARGET_MS = 1000;
const EVENTS = 1_000_000;
const VISITORS = 50_000;
const DAYS = 30;
const FIRST_DAY = "2026-10-01";
const day = (i) => new Date(Date.parse(FIRST_DAY) + i * 86_400_000).toISOString().slice(0, 10);
const LAST_DAY = day(DAYS - 1);

/** The rollup rows 1,000,000 events leave, as SQL that SQLite expands itself. */
function rollupSql({ siteId, experienceId, segmentId }) {
  const t0 = Date.parse(FIRST_DAY);
  return `
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${VISITORS * 3 - 1})
INSERT INTO report_funnel_steps (site_id, name, day, profile_key, workspace_id, first_at, last_at, properties)
SELECT '${siteId}', s.name, date(${t0 / 1000} + ((i / 3 * 7 + (i % 3) * 11) % ${DAYS}) * 86400, 'unixepoch'), 'bench:anon:v' || (i / 3), 'bench',
  ${t0} + ((i / 3 * 7 + (i % 3) * 11) % ${DAYS}) * 86400000 + s.k * 600000 + (i % 97) * 1000,
  ${t0} + ((i / 3 * 7 + (i % 3) * 11) % ${DAYS}) * 86400000 + s.k * 600000 + 3600000 + (i % 97) * 1000,
  CASE WHEN s.name = 'Product Viewed' THEN json_object('category', CASE WHEN i % 2 THEN 'shoes' ELSE 'bags' END) ELSE '{}' END
FROM n JOIN (SELECT 0 AS k, 'Page Viewed' AS name, 100 AS pct UNION ALL SELECT 1, 'Product Viewed', 70 UNION ALL SELECT 2, 'Added to Cart', 30 UNION ALL SELECT 3, 'Order Completed', 10) s
WHERE (i * 37) % 100 < s.pct
ON CONFLICT DO NOTHING;

WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < ${DAYS - 1}),
  c(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM c WHERE j < 49),
  m(model) AS (VALUES ('first'), ('last'), ('linear'), ('position')),
  l(lookback) AS (VALUES (1), (7), (30), (90)),
  e(conversion) AS (VALUES ('Order Completed'), ('Added to Cart'), ('Product Viewed'), ('Signed Up'), ('Checkout Started'))
INSERT INTO report_attribution (site_id, day, conversion, model, lookback_days, source, medium, campaign, credit, revenue)
SELECT '${siteId}', date(${t0 / 1000} + i * 86400, 'unixepoch'), conversion, model, lookback,
  CASE WHEN j = 49 THEN '(direct)' ELSE 'source' || (j % 10) END, CASE WHEN j = 49 THEN '(none)' ELSE 'medium' || (j % 5) END, CASE WHEN j = 49 THEN '(none)' ELSE 'campaign' || j END,
  ((i + j) % 7 + 1) * 333333, ((i * j) % 50 + 1) * 1999
FROM d, c, m, l, e;

WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < ${DAYS - 1})
INSERT INTO report_experiments (experience_id, variant, day, exposed, converted, revenue)
SELECT '${experienceId}', v.id, date(${t0 / 1000} + i * 86400, 'unixepoch'), v.share * 15, v.share * 15 * v.rate / 1000, v.share * 15 * v.rate / 1000 * 4999
FROM d, (SELECT 'a' AS id, 45 AS share, 100 AS rate UNION ALL SELECT 'b', 45, 112 UNION ALL SELECT 'holdout', 10, 95) v;

WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < ${DAYS - 1})
INSERT INTO report_segment_days (segment_id, day, entered, exited) SELECT '${segmentId}', date(${t0 / 1000} + i * 86400, 'unixepoch'), 500 + i * 3, 200 + i FROM d;

WITH RECURSIVE d(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM d WHERE i < ${DAYS - 1}),
  p(purpose) AS (VALUES ('analytics'), ('personalization'), ('advertising')),
  s(source) AS (VALUES ('explicit'), ('tcf'), ('gpc'), ('region'))
INSERT INTO report_consent_days (site_id, day, purpose, source, granted, denied)
SELECT '${siteId}', date(${t0 / 1000} + i * 86400, 'unixepoch'), purpose, source, 100 + i, 40 + i % 9 FROM d, p, s;

WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${VISITORS * 10 - 1})
INSERT INTO report_touchpoints (workspace_id, profile_key, id, site_id, at, kind, name, data)
SELECT 'bench', 'bench:anon:v' || (i % ${VISITORS}), 'm' || i, '${siteId}', ${t0} + (i / ${VISITORS}) * 86400000 * 3,
  CASE i / ${VISITORS} % 5 WHEN 0 THEN 'touch' WHEN 1 THEN 'page' WHEN 2 THEN 'exposure' WHEN 3 THEN 'segment' ELSE 'conversion' END, 'name' || (i % 7), '{"revenue":1999}'
FROM n;
`;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchReports(log = console.error) {
  const dev = await startDev();
  try {
    const auth = { authorization: `Bearer ${dev.adminToken}`, "content-type": "application/json" };
    const post = async (path, body) => (await fetch(`${dev.url}${path}`, { method: "POST", headers: auth, body: JSON.stringify(body) })).json();
    const experience = await post("/admin/api/experiences", { name: "Bench", slot: "hero", holdout: 0.1, goal: { event: "Order Completed" }, variants: [{ id: "a", weight: 1, content: { text: "A" } }, { id: "b", weight: 1, content: { text: "B" } }] });
    const segment = await post("/admin/api/segments", { name: "Bench", rule: { trait: "plan", op: "eq", value: "pro" } });
    const sqlFile = join(dev.dir, "rollups.sql");
    writeFileSync(sqlFile, rollupSql({ siteId: dev.siteId, experienceId: experience.id, segmentId: segment.id }));
    log(`reports: writing the rollups of ${EVENTS.toLocaleString("en-US")} events into local D1`);
    execFileSync(process.execPath, [join(root, "node_modules/wrangler/bin/wrangler.js"), "d1", "execute", "DB", "--local", "--persist-to", dev.dir, "--file", sqlFile, "--yes"], {
      cwd: join(dev.dir, "app"),
      stdio: "ignore",
      env: { ...process.env, CI: "true" },
    });
    const range = `from=${FIRST_DAY}&to=${LAST_DAY}`;
    const reports = [
      ["attribution (linear, 30d, by campaign)", "GET", `/admin/api/reports/attribution?siteId=${dev.siteId}&conversion=Order%20Completed&model=linear&lookback=30d&by=campaign&${range}`],
      ["experiment results", "GET", `/admin/api/experiences/${experience.id}/results?${range}`],
      [
        "funnel (3 steps, where, 7d window, 30 days)",
        "POST",
        "/admin/api/reports/funnel",
        { siteId: dev.siteId, steps: [{ event: "Product Viewed", where: [{ property: "category", op: "eq", value: "shoes" }] }, { event: "Added to Cart" }, { event: "Order Completed" }], within: "7d", from: FIRST_DAY, to: LAST_DAY },
      ],
      ["journey (one visitor)", "GET", "/admin/api/profiles/journey?anonymousId=v123"],
      ["segment history", "GET", `/admin/api/segments/${segment.id}/history`],
      ["consent rates", "GET", `/admin/api/reports/consent?siteId=${dev.siteId}&${range}`],
    ];
    const rows = [];
    for (const [name, method, path, body] of reports) {
      const ask = async () => {
        const started = performance.now();
        const res = await fetch(`${dev.url}${path}`, { method, headers: auth, body: body ? JSON.stringify(body) : undefined });
        const text = await res.text();
        if (!res.ok) throw new Error(`${name}: ${res.status} ${text.slice(0, 300)}`);
        return { ms: performance.now() - started, text };
      };
      const { text } = await ask();
      const times = [];
      for (let i = 0; i < 7; i++) times.push((await ask()).ms);
      rows.push({ name, medianMs: median(times), maxMs: Math.max(...times), sample: text.slice(0, 400) });
      log(`reports: ${name}: median ${median(times).toFixed(0)} ms`);
    }
    return { events: EVENTS, visitors: VISITORS, days: DAYS, rows, target: TARGET_MS };
  } finally {
    await dev.stop();
  }
}

/** The bench table's rows (run.mjs). */
export async function benchStep(row, log) {
  try {
    const result = await benchReports(log);
    for (const r of result.rows) row(`report: ${r.name}, rollups of 1M events`, `${r.medianMs.toFixed(0)} ms median (max ${r.maxMs.toFixed(0)})`, `≤ ${TARGET_MS} ms`, r.medianMs <= TARGET_MS ? "pass" : "MISS");
    return result;
  } catch (error) {
    row("reports over 1M events", `error: ${String(error.message ?? error).split("\n")[0]}`, `≤ ${TARGET_MS} ms`, "MISS");
    return { error: String(error.stack ?? error) };
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const result = await benchReports();
  console.table(result.rows.map(({ name, medianMs, maxMs }) => ({ report: name, "median ms": Math.round(medianMs), "max ms": Math.round(maxMs), target: `≤ ${TARGET_MS}` })));
  for (const r of result.rows) console.log(`${r.name}: ${r.sample}…`);
}
