/**
 * A `wrangler dev` for the benchmarks and the soak: offline, on a fresh temp state with the D1
 * migrations applied, random local secrets, one site created through the admin API. The same
 * approach as the e2e harness (test/e2e/global-setup.ts), in plain Node so `npm run bench` needs
 * no test runner.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { devArgs, offlineEnv } from "../../../scripts/lib/offline.mjs";
import { signAdminToken } from "../../../scripts/lib/token.mjs";

export const root = fileURLToPath(new URL("../../../", import.meta.url));
const wranglerBin = join(root, "node_modules/wrangler/bin/wrangler.js");
const env = { ...process.env, ...offlineEnv, CI: "true", NO_COLOR: "1" };

/** Runs wrangler with this Node (the project's Node 22), in its own process group. */
export function wrangler(args, log, cwd = root) {
  const out = log ? openSync(log, "a") : "ignore";
  return spawn(process.execPath, [wranglerBin, ...args], { cwd, env, stdio: ["ignore", out, out], detached: true });
}

/** What `wrangler dev` reads from the checkout (node_modules is linked, not copied). */
const SNAPSHOT_PATHS = ["wrangler.toml", "package.json", "tsconfig.json", "worker-configuration.d.ts", "worker", "public", "migrations"];

/** A copy of the Worker's sources in `dir`/app, for a `wrangler dev` no edit in the tree restarts. */
export function snapshotApp(dir) {
  const app = join(dir, "app");
  mkdirSync(app);
  for (const path of SNAPSHOT_PATHS) if (existsSync(join(root, path))) cpSync(join(root, path), join(app, path), { recursive: true });
  symlinkSync(join(root, "node_modules"), join(app, "node_modules"), "dir");
  return app;
}

export function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

function killGroup(child, signal) {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Ends a wrangler started by `wrangler()`: SIGTERM to its group, SIGKILL after 5 s. */
export async function stopGroup(child) {
  killGroup(child, "SIGTERM");
  const done = await Promise.race([exited(child), new Promise((r) => setTimeout(() => r("timeout"), 5000))]);
  if (done === "timeout") killGroup(child, "SIGKILL");
}

/** Waits until `url` answers 2xx to `init` (100 s at most); throws with wrangler's log if it exits or never does. */
export async function untilUp(child, url, log, init = {}) {
  const deadline = Date.now() + 100_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${readFileSync(log, "utf8")}`);
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // Not up yet.
    }
    if (Date.now() > deadline) throw new Error(`wrangler dev did not answer within 100 s:\n${readFileSync(log, "utf8")}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Every pid in the process group of `pid` (wrangler's Node and its workerd). */
export function groupPids(pgid) {
  const pids = [];
  for (const name of readdirSafe("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // Fields after the command (which may hold spaces) start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) pids.push(Number(name));
    } catch {
      // The process ended meanwhile.
    }
  }
  return pids;
}

function readdirSafe(dir) {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
/** Resident memory (bytes) of wrangler dev's whole process group (Linux /proc; null elsewhere). */
export function groupRss(child) {
  if (!child.pid) return null;
  let total = 0;
  let seen = false;
  for (const pid of groupPids(child.pid)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = /VmRSS:\s+(\d+) kB/.exec(status);
      if (kb) {
        total += Number(kb[1]) * 1024;
        seen = true;
      }
    } catch {
      // Gone.
    }
  }
  return seen ? total : null;
}

/**
 * Where the benchmarks' `wrangler dev` keeps its state (its D1 and every Durable Object's SQLite
 * file): in memory (`/dev/shm`, a tmpfs) where the machine has one, else the temp directory;
 * `BENCH_STATE_DIR` chooses. Local workerd commits each object's SQLite file to disk with a flush
 * per transaction, which on this kind of machine's disk costs more than Cohort's own work per event
 * (a new profile is a new file); Cloudflare's storage does not work that way, so the figures measure
 * the Worker, not the host's disk. `BENCH_STATE_DIR=/tmp npm run bench` measures on disk (README
 * "Performance" gives both).
 */
export function stateRoot() {
  if (process.env.BENCH_STATE_DIR) return process.env.BENCH_STATE_DIR;
  return existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
}

/**
 * Starts wrangler dev and creates a site. Returns {url, writeKey, secretKey, adminToken,
 * inspectorPort (V8 inspector, see cpu-profile.mjs), child, dir, log, stop()}. `keep` leaves the state and log in place (for a look after a failure). `vars`
 * are extra Worker vars, each passed as `--var NAME:value` (wrangler splits at the first colon, so
 * a URL value is fine), e.g. `{ EDGE_ORIGIN: "http://127.0.0.1:8080" }`.
 *
 * With `snapshot` (the default) wrangler runs in a copy of the Worker's sources (`snapshotApp`):
 * wrangler dev watches the sources and restarts the Worker when one changes ("Your worker
 * restarted mid-request"), so without it an edit made in the checkout during a run (other work in
 * the same tree) would fail requests and skew the figures. The bench measures the tree as it was
 * when wrangler dev started.
 */
export async function startDev({ keep = false, vars = {}, snapshot = true } = {}) {
  const dir = mkdtempSync(join(stateRoot(), "cohort-bench-"));
  const log = join(dir, "wrangler.log");
  let dev;
  const stop = async () => {
    if (dev) {
      process.off("exit", onExit);
      await stopGroup(dev);
    }
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  const onExit = () => dev && killGroup(dev, "SIGKILL");
  try {
    const cwd = snapshot ? snapshotApp(dir) : root;
    const migrate = wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir], log, cwd);
    const code = await exited(migrate);
    if (code !== 0) throw new Error(`wrangler d1 migrations apply failed (${code}):\n${readFileSync(log, "utf8")}`);

    const port = await freePort();
    const inspectorPort = await freePort();
    const adminSecret = randomBytes(32).toString("base64url");
    dev = wrangler(
      devArgs({
        port,
        inspectorPort,
        persistTo: dir,
        cookieSecret: randomBytes(32).toString("base64url"),
        adminSecret,
        vars,
      }),
      log,
      cwd,
    );
    process.once("exit", onExit);
    const url = `http://127.0.0.1:${port}`;
    await untilUp(dev, `${url}/healthz`, log);

    const adminToken = await signAdminToken(adminSecret, { role: "admin", workspace: "bench", subject: "bench" });
    const res = await fetch(`${url}/admin/api/sites`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Bench shop", origins: ["https://shop.example"] }),
    });
    if (!res.ok) throw new Error(`POST /admin/api/sites answered ${res.status}: ${await res.text()}`);
    const site = await res.json();
    return { url, writeKey: site.writeKey, secretKey: site.secretKey, siteId: site.id, adminToken, inspectorPort, child: dev, dir, log, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
