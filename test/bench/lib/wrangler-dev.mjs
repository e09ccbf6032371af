/**
 * A `wrangler dev` for the benchmarks and the soak: offline, on a fresh temp state with the D1
 * migrations applied, random local secrets, one site created through the admin API. The same
 * approach as the e2e harness (test/e2e/global-setup.ts), in plain Node so `npm run bench` needs
 * no test runner.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { offlineEnv } from "../../../scripts/lib/offline.mjs";
import { signAdminToken } from "../../../scripts/lib/token.mjs";

export const root = fileURLToPath(new URL("../../../", import.meta.url));
const wranglerBin = join(root, "node_modules/wrangler/bin/wrangler.js");
const env = { ...process.env, ...offlineEnv, CI: "true", NO_COLOR: "1" };

/** Runs wrangler with this Node (the project's Node 22), in its own process group. */
export function wrangler(args, log) {
  const out = log ? openSync(log, "a") : "ignore";
  return spawn(process.execPath, [wranglerBin, ...args], { cwd: root, env, stdio: ["ignore", out, out], detached: true });
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
 * Starts wrangler dev and creates a site. Returns {url, writeKey, secretKey, adminToken, child,
 * dir, log, stop()}. `keep` leaves the state and log in place (for a look after a failure).
 */
export async function startDev({ keep = false } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "cohort-bench-"));
  const log = join(dir, "wrangler.log");
  let dev;
  const stop = async () => {
    if (dev) {
      process.off("exit", onExit);
      killGroup(dev, "SIGTERM");
      const done = await Promise.race([exited(dev), new Promise((r) => setTimeout(() => r("timeout"), 5000))]);
      if (done === "timeout") killGroup(dev, "SIGKILL");
    }
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  const onExit = () => dev && killGroup(dev, "SIGKILL");
  try {
    const migrate = wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir], log);
    const code = await exited(migrate);
    if (code !== 0) throw new Error(`wrangler d1 migrations apply failed (${code}):\n${readFileSync(log, "utf8")}`);

    const port = await freePort();
    const adminSecret = randomBytes(32).toString("base64url");
    dev = wrangler(
      [
        "dev",
        "--port", String(port),
        "--ip", "127.0.0.1",
        "--inspector-port", String(await freePort()),
        "--persist-to", dir,
        "--var", `COOKIE_SECRET:${randomBytes(32).toString("base64url")}`,
        "--var", `ADMIN_JWT_SECRET:${adminSecret}`,
        "--show-interactive-dev-session=false",
        "--log-level", "warn",
      ],
      log,
    );
    process.once("exit", onExit);
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 100_000;
    for (;;) {
      if (dev.exitCode !== null) throw new Error(`wrangler dev exited with ${dev.exitCode}:\n${readFileSync(log, "utf8")}`);
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) break;
      } catch {
        // Not up yet.
      }
      if (Date.now() > deadline) throw new Error(`wrangler dev did not answer within 100 s:\n${readFileSync(log, "utf8")}`);
      await new Promise((r) => setTimeout(r, 300));
    }

    const adminToken = await signAdminToken(adminSecret, { role: "admin", workspace: "bench", subject: "bench" });
    const res = await fetch(`${url}/admin/api/sites`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Bench shop", origins: ["https://shop.example"] }),
    });
    if (!res.ok) throw new Error(`POST /admin/api/sites answered ${res.status}: ${await res.text()}`);
    const site = await res.json();
    return { url, writeKey: site.writeKey, secretKey: site.secretKey, siteId: site.id, adminToken, child: dev, dir, log, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
