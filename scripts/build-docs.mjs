// Copies the API viewer's files (Swagger UI, from the swagger-ui-dist package) into the assets the
// Worker serves at /admin/api/docs, so the viewer needs no CDN. `npm run build:docs`; also run by
// `npm run check`, `npm start` and `npm run deploy`.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const from = dirname(require.resolve("swagger-ui-dist/package.json"));
const to = fileURLToPath(new URL("../public/admin/api/docs/", import.meta.url));
mkdirSync(to, { recursive: true });
const files = ["swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "LICENSE", "NOTICE"];
for (const file of files) copyFileSync(join(from, file), join(to, file));
const { version } = require("swagger-ui-dist/package.json");
console.log(`docs: Swagger UI ${version} → public/admin/api/docs/ (${files.join(", ")})`);
