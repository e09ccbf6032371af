// Reads and creates `.dev.vars`, the local secrets file wrangler dev loads.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export const DEV_VARS = new URL("../../.dev.vars", import.meta.url);

/** Parses KEY=value lines (quotes optional). */
export function readDevVars(file = DEV_VARS) {
  if (!existsSync(file)) return {};
  const vars = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*"?([^"]*)"?\s*$/.exec(line);
    if (match) vars[match[1]] = match[2];
  }
  return vars;
}

/** Creates `.dev.vars` with fresh random secrets when it is missing; returns its variables. */
export function ensureDevVars(file = DEV_VARS) {
  const vars = readDevVars(file);
  let changed = false;
  for (const name of ["COOKIE_SECRET", "ADMIN_JWT_SECRET", "DATA_SECRET"]) {
    if (!vars[name]) {
      vars[name] = randomBytes(32).toString("base64url");
      changed = true;
    }
  }
  if (changed) {
    const body = Object.entries(vars).map(([k, v]) => `${k}="${v}"`).join("\n");
    writeFileSync(file, `# Local secrets for wrangler dev, made by npm start. Never commit this file.\n${body}\n`);
  }
  return vars;
}
