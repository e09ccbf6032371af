// `npm run token -- --role admin [--workspace demo] [--expires 30d]`: prints an admin API token
// signed with ADMIN_JWT_SECRET (from the environment, else from .dev.vars).
import { parseArgs } from "node:util";
import { readDevVars } from "./lib/devvars.mjs";
import { signAdminToken } from "./lib/token.mjs";

const { values } = parseArgs({
  options: {
    role: { type: "string", default: "admin" },
    workspace: { type: "string", default: "demo" },
    expires: { type: "string", default: "30d" },
  },
});
const secret = process.env.ADMIN_JWT_SECRET ?? readDevVars().ADMIN_JWT_SECRET;
if (!secret) {
  console.error("No ADMIN_JWT_SECRET: run `npm start` once (it creates .dev.vars) or set the variable.");
  process.exit(1);
}
try {
  console.log(await signAdminToken(secret, { role: values.role, workspace: values.workspace, expiresIn: values.expires }));
} catch (error) {
  console.error(error.message);
  process.exit(1);
}
