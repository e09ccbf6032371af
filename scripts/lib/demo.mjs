// The demo workspace `npm start` seeds (and the e2e suite seeds the same way): a site with its
// keys, the "Shoe fans" segment and the hero experience that targets it; and `.cohort/demo.env`,
// the file that puts the keys and an admin token into a shell (`source .cohort/demo.env`).
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** Where `npm start` writes the demo's shell variables; the README names it. */
export const DEMO_ENV_FILE = fileURLToPath(new URL("../../.cohort/demo.env", import.meta.url));

export const DEMO_WORKSPACE = "demo";
export const DEMO_SITE = "site_demo";
export const DEMO_SEGMENT_ID = "seg_demo_shoes";
export const DEMO_EXPERIENCE_ID = "exp_demo_hero";

/** A demo audience and what it sees: the shop's hero line changes for visitors who look at shoes. */
export const demoSegment = {
  version: 1,
  rule: { event: "Product Viewed", where: [{ property: "category", op: "eq", value: "shoes" }], within: "7d", count: { op: "gte", value: 2 } },
};
export const demoExperience = {
  name: "Shoe fans hero",
  slot: "hero",
  status: "live",
  priority: 10,
  holdout: 0,
  audience: { segment: DEMO_SEGMENT_ID },
  variants: [{ id: "a", weight: 1, content: { text: "Back for the Trail Runner, {{trait.name|friend}}? Shoes ship free this week." } }],
};

/** Fresh keys for the demo site (a browser write key and a server secret key). */
export const newDemoKeys = () => ({ writeKey: `wk_${randomBytes(12).toString("hex")}`, secretKey: `sk_${randomBytes(24).toString("hex")}` });

const quote = (value) => `'${String(value).replaceAll("'", "''")}'`;

/**
 * The SQL that brings the local D1 in line with the demo: the workspace, the site (its keys and
 * origins updated on every start), the segment and the experience (left alone once they exist).
 * @param {{ writeKey: string, secretKey: string, origins: string[] }} demo
 */
export function demoSeedSql({ writeKey, secretKey, origins }) {
  const secretHash = createHash("sha256").update(secretKey).digest("hex");
  return `INSERT INTO workspaces (id, name) VALUES (${quote(DEMO_WORKSPACE)}, 'Demo workspace') ON CONFLICT (id) DO NOTHING;
   INSERT INTO sites (id, workspace_id, name, write_key, secret_key_hash, origins, enabled)
   VALUES (${quote(DEMO_SITE)}, ${quote(DEMO_WORKSPACE)}, 'Demo shop', ${quote(writeKey)}, ${quote(secretHash)}, ${quote(JSON.stringify(origins))}, 1)
   ON CONFLICT (id) DO UPDATE SET write_key = excluded.write_key, secret_key_hash = excluded.secret_key_hash, origins = excluded.origins, enabled = 1;
   INSERT INTO segments (id, workspace_id, name, description, rule) VALUES (${quote(DEMO_SEGMENT_ID)}, ${quote(DEMO_WORKSPACE)}, 'Shoe fans',
     'Viewed shoes at least twice in 7 days', ${quote(JSON.stringify(demoSegment))}) ON CONFLICT (id) DO NOTHING;
   INSERT INTO experiences (id, workspace_id, slot, body) VALUES (${quote(DEMO_EXPERIENCE_ID)}, ${quote(DEMO_WORKSPACE)}, 'hero', ${quote(JSON.stringify(demoExperience))})
     ON CONFLICT (id) DO NOTHING;`;
}

/** `wrangler d1 execute` arguments that apply the seed to local state (`persistTo`: another folder). */
export function demoSeedArgs(demo, { persistTo } = {}) {
  return ["d1", "execute", "DB", "--local", ...(persistTo ? ["--persist-to", persistTo] : []), "--command", demoSeedSql(demo)];
}

/**
 * The body of `.cohort/demo.env`: `export` lines a POSIX shell loads with `source`.
 * @param {{ url: string, writeKey: string, secretKey: string, token: string }} values
 */
export function demoEnv({ url, writeKey, secretKey, token }) {
  const line = (name, value) => `export ${name}='${String(value).replaceAll("'", "'\\''")}'`;
  return [
    "# Made by npm start for the local demo: load it with `source .cohort/demo.env`. Never commit it.",
    line("COHORT", url),
    line("WRITE_KEY", writeKey),
    line("SECRET_KEY", secretKey),
    line("TOKEN", token),
    "",
  ].join("\n");
}

/** Writes `demoEnv(values)` to `file` (creating its folder), readable by its owner only. */
export function writeDemoEnv(file, values) {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, demoEnv(values), { mode: 0o600 });
}
