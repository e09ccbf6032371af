// `npm run token -- --role admin [--workspace demo] [--expires 30d]`: prints an admin API token
// signed with ADMIN_JWT_SECRET (from the environment, else from .dev.vars).
import { parseArgs } from "node:util";
import { readDevVars } from "./lib/devvars.mjs";
import { ROLES, signAdminToken } from "./lib/token.mjs";

const usage = `Usage: npm run token -- [--role ${ROLES.join("|")}] [--workspace <id>] [--expires <time>]

Prints an admin API token (an HS256 JWT) signed with ADMIN_JWT_SECRET, taken from the
environment or else from .dev.vars (which npm start creates).

  --role       what the token may do: ${ROLES.join(", ")} (default admin)
  --workspace  the workspace it is scoped to (default demo)
  --expires    how long it is valid, e.g. 2h, 7d, 30d (default 30d)
  -h, --help   this text

Example: TOKEN=$(npm run -s token -- --role editor --workspace demo)`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      role: { type: "string", default: "admin" },
      workspace: { type: "string", default: "demo" },
      expires: { type: "string", default: "30d" },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (error) {
  // parseArgs explains unknown flags, missing values and stray arguments in its message.
  console.error(`npm run token: ${error.message}\nUsage: npm run token -- --help`);
  process.exit(1);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const secret = process.env.ADMIN_JWT_SECRET ?? readDevVars().ADMIN_JWT_SECRET;
if (!secret) {
  console.error("No ADMIN_JWT_SECRET: run `npm start` once (it creates .dev.vars) or set the variable.");
  process.exit(1);
}
try {
  console.log(await signAdminToken(secret, { role: values.role, workspace: values.workspace, expiresIn: values.expires }));
} catch (error) {
  // jose's own words for a bad --expires do not name the flag.
  const message = /time period/i.test(error.message) ? `--expires ${values.expires} is not a duration (e.g. 2h, 7d, 30d)` : error.message;
  console.error(`npm run token: ${message}\nUsage: npm run token -- --help`);
  process.exit(1);
}
