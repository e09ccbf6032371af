/**
 * End-to-end harness (vitest globalSetup of the "e2e" project): a real `wrangler dev` on a fresh
 * local D1/Durable Object state, a site created through the admin API, a "customer site" on another
 * port that embeds the tag, and a switchable proxy in front of wrangler for outage tests.
 *
 * Everything the browser sees is addressed as `localhost` (not 127.0.0.1), so the customer page,
 * the proxy and Cohort are the same site and the SameSite=Lax `cohort_id` cookie flows between them.
 * Nothing here talks to Cloudflare: local mode, no metrics, no cf fetch.
 *
 * Before wrangler dev starts, the demo workspace is seeded with npm start's own code
 * (scripts/lib/demo.mjs) for the demo shop and README tests; it answers on 127.0.0.1 only.
 *
 * Run: `npx vitest run --project e2e`. Needs Debian's Chromium at /usr/bin/chromium (or
 * CHROMIUM_PATH). COHORT_E2E_KEEP=1 keeps the temp dir with the local state and wrangler.log.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";
import { DEMO_WORKSPACE, demoSeedArgs, newDemoKeys, writeDemoEnv } from "../../scripts/lib/demo.mjs";
import { devArgs } from "../../scripts/lib/offline.mjs";
import { signAdminToken } from "../../scripts/lib/token.mjs";
import { startCustomerSite } from "./customer-site";
import { startProxy } from "./proxy";
import { reservePort } from "./ports";

export interface E2E {
  /** Cohort (wrangler dev) as the browser addresses it: `http://localhost:<port>`. */
  url: string;
  /** The switchable proxy in front of Cohort; `POST <proxyUrl>/__proxy?mode=up|503|500|destroy`. */
  proxyUrl: string;
  /** The customer's site that embeds the tag: `<customerUrl>/?cohort=<base>&auto=false&pre=<json>`. */
  customerUrl: string;
  siteId: string;
  writeKey: string;
  secretKey: string;
  /** The e2e site's identity secret: a test computes `userHash` with it as the site's server would. */
  identitySecret: string;
  adminToken: string;
  /** A viewer's token for the e2e workspace (the dashboard test checks what a viewer is offered). */
  viewerToken: string;
  /**
   * The demo workspace as `npm start` seeds it (scripts/lib/demo.mjs: site, "Shoe fans" segment,
   * hero experience), on `http://127.0.0.1:<port>` only, so the demo page there is the demo's and
   * everything addressed as localhost keeps the e2e site. `envFile` is its `.cohort/demo.env`.
   */
  demo: { url: string; writeKey: string; secretKey: string; adminToken: string; envFile: string };
}

declare module "vitest" {
  export interface ProvidedContext {
    e2e: E2E;
  }
}

const root = fileURLToPath(new URL("../../", import.meta.url));
const wranglerBin = join(root, "node_modules/wrangler/bin/wrangler.js");
const quietEnv = {
  ...process.env,
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  CI: "true",
  NO_COLOR: "1",
};

/** Runs wrangler with this process's Node (the project's Node 22), in its own process group. */
function wrangler(args: string[], log: string): ChildProcess {
  const out = openSync(log, "a");
  return spawn(process.execPath, [wranglerBin, ...args], {
    cwd: root,
    env: quietEnv,
    stdio: ["ignore", out, out],
    detached: true,
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    if (child.pid) process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

async function waitUntilUp(url: string, child: ChildProcess, log: string) {
  const deadline = Date.now() + 100_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}:\n${readFileSync(log, "utf8")}`);
    try {
      await fetch(`${url}/t.js`, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 300));
    }
  }
  throw new Error(`wrangler dev did not answer at ${url} within 100 s:\n${readFileSync(log, "utf8")}`);
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "cohort-e2e-"));
  const log = join(dir, "wrangler.log");
  const cleanups: (() => Promise<unknown> | void)[] = [];
  const teardown = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        console.error("e2e teardown:", error);
      }
    }
    // COHORT_E2E_KEEP=1 keeps the state and wrangler's log for a look after a failure.
    if (process.env.COHORT_E2E_KEEP) console.log(`e2e: state and wrangler.log kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  };

  try {
    // The tag and the dashboard are assets wrangler dev serves: built before it starts.
    for (const build of ["tag/build.mjs", "dashboard/build.mjs"]) execFileSync(process.execPath, [join(root, build)], { cwd: root, stdio: "ignore" });
    const migrate = wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", dir], log);
    const code = await exited(migrate);
    if (code !== 0) throw new Error(`wrangler d1 migrations apply failed (${code}):\n${readFileSync(log, "utf8")}`);

    // Ports are held from here until wrangler dev starts: the Worker test pools bind ports meanwhile.
    const held = await reservePort();
    const inspector = await reservePort();
    const port = held.port;
    const customerDefaults = { cohortUrl: "", writeKey: "" };
    const customer = await startCustomerSite(0, customerDefaults);
    cleanups.push(() => customer.close());
    const customerPort = customer.port;
    const adminSecret = randomBytes(32).toString("base64url");

    // The demo workspace, seeded with npm start's own code before wrangler dev opens the state.
    const demoKeys = newDemoKeys();
    const demoUrl = `http://127.0.0.1:${port}`;
    const seed = wrangler([...demoSeedArgs({ ...demoKeys, origins: [demoUrl] }, { persistTo: dir })], log);
    const seeded = await exited(seed);
    if (seeded !== 0) throw new Error(`seeding the demo workspace failed (${seeded}):\n${readFileSync(log, "utf8")}`);
    const demoToken = await signAdminToken(adminSecret, { role: "admin", workspace: DEMO_WORKSPACE, subject: "e2e" });
    const demoEnvFile = join(dir, "demo", ".cohort", "demo.env");
    writeDemoEnv(demoEnvFile, { url: demoUrl, ...demoKeys, token: demoToken });
    await held.release();
    await inspector.release();
    const dev = wrangler(
      devArgs({
        port,
        inspectorPort: inspector.port,
        persistTo: dir,
        cookieSecret: randomBytes(32).toString("base64url"),
        adminSecret,
        // The customer's site is also the origin behind Cohort's edge route (/shop/… pages).
        vars: { DEMO: "true", EDGE_ORIGIN: `http://127.0.0.1:${customerPort}`, ALLOW_LOCAL_DESTINATIONS: "true" },
      }),
      log,
    );
    // If vitest dies without running the teardown, do not leave a wrangler (and workerd) behind.
    const onExit = () => killGroup(dev, "SIGKILL");
    process.once("exit", onExit);
    cleanups.push(async () => {
      process.off("exit", onExit);
      killGroup(dev, "SIGTERM");
      const done = await Promise.race([exited(dev), new Promise((r) => setTimeout(() => r("timeout"), 5000))]);
      if (done === "timeout") killGroup(dev, "SIGKILL");
    });

    const url = `http://localhost:${port}`;
    await waitUntilUp(`http://127.0.0.1:${port}`, dev, log);

    const proxy = await startProxy(port);
    cleanups.push(() => proxy.close());
    const proxyUrl = `http://localhost:${proxy.port}`;
    const customerUrl = `http://localhost:${customerPort}`;

    const adminToken = await signAdminToken(adminSecret, { role: "admin", workspace: "e2e", subject: "e2e" });
    const viewerToken = await signAdminToken(adminSecret, { role: "viewer", workspace: "e2e", subject: "e2e-viewer" });
    const res = await fetch(`${url}/admin/api/sites`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "E2E shop", origins: [customerUrl, url] }),
    });
    if (!res.ok) throw new Error(`POST /admin/api/sites answered ${res.status}: ${await res.text()}`);
    const site = (await res.json()) as { id: string; writeKey: string; secretKey: string; identitySecret: string };

    Object.assign(customerDefaults, { cohortUrl: url, writeKey: site.writeKey });

    project.provide("e2e", {
      url,
      proxyUrl,
      customerUrl,
      siteId: site.id,
      writeKey: site.writeKey,
      secretKey: site.secretKey,
      identitySecret: site.identitySecret,
      adminToken,
      viewerToken,
      demo: { url: demoUrl, ...demoKeys, adminToken: demoToken, envFile: demoEnvFile },
    });
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
