// `npm start`: Cohort on this machine, offline. Creates .dev.vars with fresh secrets on first run,
// builds the tag, applies the local D1 migrations, seeds the demo workspace and site, prints the
// keys and an admin token, then runs `wrangler dev` on PORT (default 8787).
import { createHash, randomBytes } from "node:crypto";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { ensureDevVars } from "./lib/devvars.mjs";
import { offlineEnv } from "./lib/offline.mjs";
import { signAdminToken } from "./lib/token.mjs";

const root = new URL("..", import.meta.url);
const port = Number(process.env.PORT ?? 8787);
const env = { ...process.env, ...offlineEnv };
const wrangler = new URL("../node_modules/.bin/wrangler", import.meta.url).pathname;
const run = (file, args) => execFileSync(file, args, { cwd: root, env, stdio: ["ignore", "pipe", "inherit"] }).toString();

const secrets = ensureDevVars();
run(process.execPath, ["tag/build.mjs"]);
run(process.execPath, ["scripts/build-docs.mjs"]);
run(wrangler, ["d1", "migrations", "apply", "DB", "--local"]);

// The demo site's keys live in .wrangler/ (local state, not committed) so they stay the same
// from one start to the next; the database row is brought in line with them on every start.
const demoFile = new URL("../.wrangler/cohort-demo.json", import.meta.url);
mkdirSync(new URL("../.wrangler/", import.meta.url), { recursive: true });
const demo = existsSync(demoFile)
  ? JSON.parse(readFileSync(demoFile, "utf8"))
  : { writeKey: `wk_${randomBytes(12).toString("hex")}`, secretKey: `sk_${randomBytes(24).toString("hex")}` };
writeFileSync(demoFile, JSON.stringify(demo, null, 2));

// A demo audience and what it sees: the shop's hero line changes for visitors who look at shoes.
const demoSegment = {
  version: 1,
  rule: { event: "Product Viewed", where: [{ property: "category", op: "eq", value: "shoes" }], within: "7d", count: { op: "gte", value: 2 } },
};
const demoExperience = {
  name: "Shoe fans hero",
  slot: "hero",
  status: "live",
  priority: 10,
  holdout: 0,
  audience: { segment: "seg_demo_shoes" },
  variants: [{ id: "a", weight: 1, content: { text: "Back for the Trail Runner, {{trait.name|friend}}? Shoes ship free this week." } }],
};
const quote = (value) => `'${String(value).replaceAll("'", "''")}'`;
const origins = JSON.stringify([`http://localhost:${port}`, `http://127.0.0.1:${port}`]);
const secretHash = createHash("sha256").update(demo.secretKey).digest("hex");
run(wrangler, [
  "d1",
  "execute",
  "DB",
  "--local",
  "--command",
  `INSERT INTO workspaces (id, name) VALUES ('demo', 'Demo workspace') ON CONFLICT (id) DO NOTHING;
   INSERT INTO sites (id, workspace_id, name, write_key, secret_key_hash, origins, enabled)
   VALUES ('site_demo', 'demo', 'Demo shop', ${quote(demo.writeKey)}, ${quote(secretHash)}, ${quote(origins)}, 1)
   ON CONFLICT (id) DO UPDATE SET write_key = excluded.write_key, secret_key_hash = excluded.secret_key_hash, origins = excluded.origins, enabled = 1;
   INSERT INTO segments (id, workspace_id, name, description, rule) VALUES ('seg_demo_shoes', 'demo', 'Shoe fans',
     'Viewed shoes at least twice in 7 days', ${quote(JSON.stringify(demoSegment))}) ON CONFLICT (id) DO NOTHING;
   INSERT INTO experiences (id, workspace_id, slot, body) VALUES ('exp_demo_hero', 'demo', 'hero', ${quote(JSON.stringify(demoExperience))})
     ON CONFLICT (id) DO NOTHING;`,
]);

const token = await signAdminToken(secrets.ADMIN_JWT_SECRET, { role: "admin", workspace: "demo" });
const base = `http://localhost:${port}`;
console.log(`
  Cohort is starting on ${base}

  Demo shop (with the tag):  ${base}/
  Collection API:            ${base}/v1/batch
  Admin API:                 ${base}/admin/api

  Demo write key (browser):  ${demo.writeKey}
  Demo secret key (server):  ${demo.secretKey}
  Admin token (30 days):     ${token}

  Try:  curl -s ${base}/v1/track -u '${demo.secretKey}:' -H 'Content-Type: application/json' \\
          -d '{"userId":"ada","event":"Signed Up"}'
        curl -s '${base}/admin/api/profiles/lookup?userId=ada' -H 'Authorization: Bearer ${token}'
`);

const dev = spawn(wrangler, ["dev", "--port", String(port), "--var", "DEMO:true", "--show-interactive-dev-session=false"], {
  cwd: root,
  env,
  stdio: "inherit",
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
