/** Assembles the HTTP surface: routes are mounted here and nowhere else. */
import { OpenAPIHono } from "@hono/zod-openapi";
import { demoEnabled, type AppEnv } from "../env";
import { admin } from "./admin";
import { assets } from "./assets";
import { beacon, collect } from "./collect";
import { registerCollectionPaths } from "./collect-openapi";
import { dashboardPage } from "./dashboard";
import { docsAsset, docsPage } from "./docs";
import { edgeEnabled, serveFromOrigin } from "./edge";
import { errorBody, onError } from "./errors";
import { documentConfig } from "./openapi";
import { sdkConfig } from "./sdk-config";

export const app = new OpenAPIHono<AppEnv>();

/** Liveness, and the "empty route" the benchmarks compare the collection path against. */
app.on(["GET", "POST"], "/healthz", (c) => c.json({ ok: true }));

/**
 * The API's OpenAPI document, generated from the routes' own schemas (public: it holds no data),
 * and a viewer for it. Both come before the admin API's token check.
 */
const documents = new Map<string, unknown>();
app.get("/admin/api/openapi.json", (c) => {
  const origin = new URL(c.req.url).origin;
  let document = documents.get(origin);
  if (!document) {
    if (documents.size >= 16) documents.clear();
    documents.set(origin, (document = app.getOpenAPI31Document(documentConfig(origin))));
  }
  return c.json(document);
});
app.get("/admin/api/docs", docsPage);
app.get("/admin/api/docs/:file", docsAsset);
/** The dashboard (its routes are in the URL's fragment, so these two paths are all it needs). */
app.get("/admin", dashboardPage);
app.get("/admin/", dashboardPage);

app.route("/v1", collect);
app.route("/", sdkConfig);
app.route("/beacon/v1", beacon);
app.route("/admin/api", admin);
registerCollectionPaths(app.openAPIRegistry);
app.route("/", assets);
app.onError(onError);
/**
 * Anything else: a static asset (the demo's files only in demo mode), else — on an edge route —
 * the site's origin, else 404.
 */
app.notFound(async (c) => {
  const { pathname } = new URL(c.req.url);
  const asset = (c.req.method === "GET" || c.req.method === "HEAD") && (!pathname.startsWith("/demo/") || demoEnabled(c.env));
  if (asset) {
    const res = await c.env.ASSETS.fetch(c.req.raw);
    if (res.status !== 404) return res;
  }
  if (edgeEnabled(c.env)) return serveFromOrigin(c);
  return c.json(errorBody("not_found", `No route for ${c.req.method} ${pathname}.`), 404);
});
