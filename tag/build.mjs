// Builds the browser tag: tag/src/index.ts → public/t.js (what the snippet loads) and
// public/t.<first 8 hex of sha256>.js (a content-versioned copy that can be cached forever).
// `npm run build:tag`; the size budget is enforced by test/unit/tag-size.test.ts.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { TAG_BUILD_OPTIONS } from "./build-options.mjs";

const root = new URL("../", import.meta.url);
const out = new URL("public/", root);
const { version } = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));

const result = await build({
  ...TAG_BUILD_OPTIONS,
  entryPoints: [fileURLToPath(new URL("tag/src/index.ts", root))],
  define: { __VERSION__: JSON.stringify(version) },
  logLevel: "warning",
});
const code = result.outputFiles[0].contents;
const hash = createHash("sha256").update(code).digest("hex").slice(0, 8);

// Old versioned copies would pile up in public/ (and in the deployed assets): keep only this one.
for (const name of readdirSync(out)) {
  if (/^t\.[0-9a-f]{8}\.js$/.test(name) && name !== `t.${hash}.js`) rmSync(new URL(name, out));
}
writeFileSync(new URL("t.js", out), code);
writeFileSync(new URL(`t.${hash}.js`, out), code);

const gzipped = gzipSync(code, { level: 9 }).length;
console.log(`tag: public/t.js and public/t.${hash}.js, ${code.length} bytes, ${gzipped} bytes gzipped (budget 3000)`);
