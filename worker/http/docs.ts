/**
 * A viewer for the OpenAPI document at `/admin/api/docs`: Swagger UI, from the `swagger-ui-dist`
 * package, copied into the Worker's assets at build time (scripts/build-docs.mjs), so nothing is
 * loaded from a CDN. The page and its files are public, like the document: they hold no data, and
 * calls made from the page need a token (Authorize).
 */
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { errorBody } from "./errors";

export const DOCS_PATH = "/admin/api/docs";
/** The files of the viewer, under DOCS_PATH; nothing else is served from there. */
export const DOCS_FILES = ["swagger-ui.css", "swagger-ui-bundle.js", "init.js", "favicon-32x32.png"] as const;

const page = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Cohort API</title>
  <link rel="icon" type="image/png" href="${DOCS_PATH}/favicon-32x32.png">
  <link rel="stylesheet" href="${DOCS_PATH}/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="${DOCS_PATH}/swagger-ui-bundle.js"></script>
  <script src="${DOCS_PATH}/init.js"></script>
</body>
</html>
`;

export const docsPage = (c: Context<AppEnv>) => c.html(page, 200, { "Cache-Control": "no-cache" });

export async function docsAsset(c: Context<AppEnv>) {
  const file = c.req.param("file") ?? "";
  if (!(DOCS_FILES as readonly string[]).includes(file)) return c.json(errorBody("not_found", `No file ${file} in the API viewer.`), 404);
  const res = await c.env.ASSETS.fetch(new Request(new URL(`${DOCS_PATH}/${file}`, c.req.url)));
  if (!res.ok) return c.json(errorBody("not_found", `The API viewer is not built: run \`npm run build:docs\`.`), 404);
  const out = new Response(res.body, res);
  out.headers.set("Cache-Control", "public, max-age=3600");
  return out;
}
