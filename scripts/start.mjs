// `npm start`: Cohort on this machine, offline. Checks PORT (default 8787) first, creates .dev.vars
// with fresh secrets on first run, builds the tag and the dashboard, applies the local D1 migrations, seeds the demo
// workspace and site, writes their keys and an admin token to .cohort/demo.env, prints them, then
// runs `wrangler dev` on PORT.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import { DEMO_ENV_FILE, DEMO_WORKSPACE, demoSeedArgs, newDemoKeys, writeDemoEnv } from "./lib/demo.mjs";
import { ensureDevVars } from "./lib/devvars.mjs";
import { offlineEnv } from "./lib/offline.mjs";
import { portFromEnv, portProblem } from "./lib/port.mjs";
import { signAdminToken, signInLink } from "./lib/token.mjs";

// Before anything is written or printed: a port we cannot have is the first thing to say.
const { port, error: portError } = portFromEnv();
if (portError) {
  console.error(`npm start: ${portError} Set PORT to a free port, e.g. PORT=8788 npm start`);
  process.exit(1);
}
const problem = await portProblem(port);
if (problem) {
  const why = problem === "EADDRINUSE" ? "is already in use (another npm start or wrangler dev?)" : `cannot be used (${problem})`;
  console.error(`npm start: port ${port} ${why}. Stop what holds it, or start on another port: PORT=${port === 8788 ? 8789 : 8788} npm start`);
  process.exit(1);
}

const root = new URL("..", import.meta.url);
const env = { ...process.env, ...offlineEnv };
const wrangler = new URL("../node_modules/.bin/wrangler", import.meta.url).pathname;
const run = (file, args) => execFileSync(file, args, { cwd: root, env, stdio: ["ignore", "pipe", "inherit"] }).toString();

const secrets = ensureDevVars();
run(process.execPath, ["tag/build.mjs"]);
run(process.execPath, ["scripts/build-docs.mjs"]);
run(process.execPath, ["dashboard/build.mjs"]);
run(wrangler, ["d1", "migrations", "apply", "DB", "--local"]);

// The demo site's keys live in .wrangler/ (local state, not committed) so they stay the same
// from one start to the next; the database row is brought in line with them on every start.
const demoFile = new URL("../.wrangler/cohort-demo.json", import.meta.url);
mkdirSync(new URL("../.wrangler/", import.meta.url), { recursive: true });
const demo = existsSync(demoFile) ? JSON.parse(readFileSync(demoFile, "utf8")) : newDemoKeys();
writeFileSync(demoFile, JSON.stringify(demo, null, 2));
run(wrangler, demoSeedArgs({ ...demo, origins: [`http://localhost:${port}`, `http://127.0.0.1:${port}`] }));

const token = await signAdminToken(secrets.ADMIN_JWT_SECRET, { role: "admin", workspace: DEMO_WORKSPACE });
const base = `http://localhost:${port}`;
writeDemoEnv(DEMO_ENV_FILE, { url: base, writeKey: demo.writeKey, secretKey: demo.secretKey, token });
const envFile = relative(process.cwd(), DEMO_ENV_FILE) || DEMO_ENV_FILE;
console.log(`
  Cohort is starting on ${base}

  Dashboard (signs you in):  ${signInLink(base, token)}
  Demo shop (with the tag):  ${base}/
  Collection API:            ${base}/v1/batch
  Admin API:                 ${base}/admin/api

  Demo write key (browser):  ${demo.writeKey}
  Demo secret key (server):  ${demo.secretKey}
  Admin token (30 days):     ${token}

  The same, for the README's examples, in ${envFile}. In another shell:

    source ${envFile}
    curl -s $COHORT/v1/track -u "$SECRET_KEY:" -H 'Content-Type: application/json' \\
      -d '{"userId":"ada","event":"Signed Up"}'
    curl -s "$COHORT/admin/api/profiles/lookup?userId=ada" -H "Authorization: Bearer $TOKEN"
`);

const dev = spawn(wrangler, ["dev", "--port", String(port), "--var", "DEMO:true", "--var", "ALLOW_LOCAL_DESTINATIONS:true", "--show-interactive-dev-session=false"], {
  cwd: root,
  env,
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
