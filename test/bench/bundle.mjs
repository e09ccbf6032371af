/**
 * The Worker bundle as Cloudflare would receive it: `wrangler deploy --dry-run --outdir` (offline,
 * nothing uploaded), gzipped, against the plans' compressed-size limits (free 3 MB, paid 10 MB).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { exited, wrangler } from "./lib/wrangler-dev.mjs";

export const FREE_LIMIT = 3 * 1024 * 1024;
export const PAID_LIMIT = 10 * 1024 * 1024;

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** {bytes, gzip, files, freeLimit, paidLimit} of the deployable modules (source maps excluded). */
export async function benchBundle() {
  const out = mkdtempSync(join(tmpdir(), "cohort-bundle-"));
  const log = join(out, "wrangler.log");
  try {
    const code = await exited(wrangler(["deploy", "--dry-run", "--outdir", join(out, "dist")], log));
    if (code !== 0) throw new Error(`wrangler deploy --dry-run failed (${code}):\n${readFileSync(log, "utf8").slice(-2000)}`);
    const modules = files(join(out, "dist")).filter((path) => !path.endsWith(".map") && !path.endsWith("README.md"));
    // Cloudflare compresses the upload as a whole; gzip of the concatenated modules is that figure.
    const all = Buffer.concat(modules.map((path) => readFileSync(path)));
    return { bytes: all.length, gzip: gzipSync(all, { level: 9 }).length, files: modules.length, freeLimit: FREE_LIMIT, paidLimit: PAID_LIMIT };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
