// Builds the dashboard: dashboard/src/main.tsx (Preact, uPlot) → public/admin/app.<hash>.js and
// app.<hash>.css, bundled and minified by esbuild, and public/admin/index.html that loads them.
// Nothing is fetched at run time: every script and style is in these files. `npm run build:dashboard`;
// also run by `npm run check`, `npm start` and `npm run deploy`. The size budget (150 KB of
// JavaScript gzipped, DESIGN.md §5) is checked by test/unit/dashboard-size.test.ts.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const here = new URL("./", import.meta.url);
const out = new URL("../public/admin/", import.meta.url);
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: [fileURLToPath(new URL("src/main.tsx", here))],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  outdir: fileURLToPath(out),
  entryNames: "app",
  write: false,
  logLevel: "warning",
});

const hashOf = (bytes) => createHash("sha256").update(bytes).digest("hex").slice(0, 8);
const files = {};
for (const file of result.outputFiles) {
  const ext = file.path.endsWith(".css") ? "css" : "js";
  files[ext] = { name: `app.${hashOf(file.contents)}.${ext}`, contents: file.contents };
}
// Old builds would pile up in the deployed assets: keep only this one.
for (const name of readdirSync(out)) if (/^app\.[0-9a-f]{8}\.(js|css)$/.test(name) && name !== files.js.name && name !== files.css?.name) rmSync(new URL(name, out));
for (const file of Object.values(files)) writeFileSync(new URL(file.name, out), file.contents);
const html = readFileSync(new URL("index.html", here), "utf8").replace("%%SCRIPT%%", `/admin/${files.js.name}`).replace("%%STYLE%%", `/admin/${files.css.name}`);
writeFileSync(new URL("index.html", out), html);

const gzipped = gzipSync(files.js.contents, { level: 9 }).length;
console.log(`dashboard: public/admin/${files.js.name} (${files.js.contents.length} bytes, ${gzipped} bytes gzipped; budget 153600) and ${files.css.name}`);
