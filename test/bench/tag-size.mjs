/**
 * Tag size: Cohort's public/t.js next to the collectors people use today, each bundled and minified
 * the same way (esbuild: bundle, iife, es2020, minify) and gzipped at level 9. The peers come from
 * npm, installed by this script into test/bench/.peers/ (gitignored), never as project dependencies.
 * Each peer's entry imports the package's whole public namespace, so what a site would ship with
 * the default integration is counted (dynamic imports are inlined: esbuild does not split an iife).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { TAG_BUILD_OPTIONS } from "../../tag/build-options.mjs";
import { root } from "./lib/wrangler-dev.mjs";

export const TAG_BUDGET = 3000;
export const PEERS = ["@segment/analytics-next", "@rudderstack/analytics-js", "@snowplow/browser-tracker", "posthog-js", "plausible-tracker"];
const peersDir = join(root, "test/bench/.peers");

const gzip9 = (bytes) => gzipSync(bytes, { level: 9 }).length;

function installPeers() {
  mkdirSync(peersDir, { recursive: true });
  const manifest = join(peersDir, "package.json");
  if (!existsSync(manifest)) writeFileSync(manifest, JSON.stringify({ name: "cohort-bench-peers", private: true }, null, 2));
  const missing = PEERS.filter((name) => !existsSync(join(peersDir, "node_modules", name, "package.json")));
  if (missing.length === 0) return;
  // The npm that runs `npm run bench`, with --prefix so the project's package.json is untouched.
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ["npm"];
  execFileSync(npm[0], [...npm.slice(1), "install", "--prefix", peersDir, "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", ...missing], {
    stdio: ["ignore", "inherit", "inherit"],
  });
}

async function bundlePeer(name) {
  const version = JSON.parse(readFileSync(join(peersDir, "node_modules", name, "package.json"), "utf8")).version;
  const result = await build({
    stdin: { contents: `import * as peer from ${JSON.stringify(name)};\nglobalThis.__peer = peer;\n`, resolveDir: peersDir, loader: "js" },
    ...TAG_BUILD_OPTIONS,
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
  });
  const code = result.outputFiles[0].contents;
  return { name, version, bytes: code.length, gzip: gzip9(code) };
}

/** {cohort:{bytes,gzip,budget}, peers:[{name,version,bytes,gzip}|{name,error}]} */
export async function benchTagSize() {
  execFileSync(process.execPath, [join(root, "tag/build.mjs")], { cwd: root, stdio: "ignore" });
  const tag = readFileSync(join(root, "public/t.js"));
  const cohort = { bytes: tag.length, gzip: gzip9(tag), budget: TAG_BUDGET };
  let peers;
  try {
    installPeers();
    peers = [];
    for (const name of PEERS) {
      try {
        peers.push(await bundlePeer(name));
      } catch (error) {
        peers.push({ name, error: String(error.message ?? error).split("\n")[0] });
      }
    }
  } catch (error) {
    peers = PEERS.map((name) => ({ name, error: `npm install failed: ${String(error.message ?? error).split("\n")[0]}` }));
  }
  return { cohort, peers };
}
