/** The dashboard's first load (dashboard/size.mjs), built fresh: JavaScript and CSS, gzipped. */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { dashboardSize } from "../../dashboard/size.mjs";
import { root } from "./lib/wrangler-dev.mjs";

export function benchDashboardSize() {
  execFileSync(process.execPath, [join(root, "dashboard/build.mjs")], { cwd: root, stdio: "ignore" });
  return dashboardSize();
}
