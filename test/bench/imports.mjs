// Imports: 100,000 CSV rows uploaded to a fresh `wrangler dev` and applied by its import queue
// (DESIGN.md §3 "Sources beyond the tag"; the issue asks that no request or queue batch runs out of
// memory or time). Reports the upload time, rows/s from upload to `done`, and that every row applied.
//   node test/bench/imports.mjs           prints the figures
//   benchStep(row, log) from run.mjs      adds the rows to the bench table
// BENCH_IMPORT_ROWS changes the row count.
import { pathToFileURL } from "node:url";
import { startDev } from "./lib/wrangler-dev.mjs";

const ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 100_000);
const PLANS = ["free", "pro", "team"];

/** A CRM export: id, email, a plan, a number, a flag and a quoted note with a comma and a newline. */
function csv(rows) {
  const lines = ["userId,email,plan,ltv,vip,note"];
  for (let i = 0; i < rows; i++) lines.push(`crm-${i},crm-${i}@example.com,${PLANS[i % 3]},${(i % 1000) * 1.5},${i % 7 === 0},"row ${i}, imported\nfrom the CRM"`);
  return `${lines.join("\n")}\n`;
}

export async function benchImports(log = () => {}) {
  const dev = await startDev({ keep: Boolean(process.env.BENCH_KEEP) });
  try {
    const auth = { authorization: `Bearer ${dev.adminToken}` };
    const body = csv(ROWS);
    log(`imports: uploading ${ROWS.toLocaleString("en-US")} rows (${(Buffer.byteLength(body) / 1024 / 1024).toFixed(1)} MB)`);
    const started = performance.now();
    const res = await fetch(`${dev.url}/admin/api/imports?siteId=${dev.siteId}&purposes=analytics,personalization`, { method: "POST", headers: { ...auth, "content-type": "text/csv" }, body });
    if (res.status !== 202) throw new Error(`POST /admin/api/imports answered ${res.status}: ${await res.text()}`);
    const uploadMs = performance.now() - started;
    const { id } = await res.json();
    let view;
    const deadline = Date.now() + 30 * 60_000;
    for (;;) {
      view = await (await fetch(`${dev.url}/admin/api/imports/${id}`, { headers: auth })).json();
      if (view.status === "done" || view.status === "failed") break;
      if (Date.now() > deadline) throw new Error(`import not done after 30 minutes: ${JSON.stringify(view).slice(0, 300)}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const seconds = (performance.now() - started) / 1000;
    // One profile, read back: the last row's traits, typed.
    const last = await (await fetch(`${dev.url}/admin/api/profiles/lookup?userId=crm-${ROWS - 1}`, { headers: auth })).json();
    log(`imports: ${view.status}, ${view.applied}/${view.rows} applied in ${seconds.toFixed(1)} s`);
    return { rows: ROWS, bytes: Buffer.byteLength(body), uploadMs: Math.round(uploadMs), seconds, rowsPerSecond: view.applied / seconds, view: { ...view, errors: view.errors.slice(0, 5) }, lastTraits: last.traits };
  } finally {
    await dev.stop();
  }
}

/** The bench table's rows (run.mjs). */
export async function benchStep(row, log) {
  try {
    const r = await benchImports(log);
    const all = r.view.status === "done" && r.view.applied === r.rows && r.view.rejected === 0;
    const int = (n) => Math.round(n).toLocaleString("en-US");
    row(`import of ${int(r.rows)} CSV rows (${(r.bytes / 1024 / 1024).toFixed(1)} MB), rows/s upload → done`, `${int(r.rowsPerSecond)} rows/s (${r.seconds.toFixed(0)} s; upload ${r.uploadMs} ms)`, "", "info");
    row("import: every row applied", `${r.view.status}, ${int(r.view.applied)}/${int(r.view.rows)} applied, ${r.view.rejected} rejected`, "all", all ? "pass" : "MISS");
    return r;
  } catch (error) {
    row("import of 100,000 rows", `error: ${String(error.message ?? error).split("\n")[0]}`, "all applied", "MISS");
    return { error: String(error.stack ?? error) };
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const r = await benchImports(console.error);
  console.log(JSON.stringify({ rows: r.rows, bytes: r.bytes, uploadMs: r.uploadMs, seconds: r.seconds, rowsPerSecond: Math.round(r.rowsPerSecond), status: r.view.status, applied: r.view.applied, rejected: r.view.rejected, duplicates: r.view.duplicates, lastTraits: r.lastTraits }, null, 2));
}
