/** Assembles the HTTP surface: routes are mounted here and nowhere else. */
import { Hono } from "hono";
import { demoEnabled, type AppEnv } from "../env";
import { openApiDocument } from "../admin/openapi";
import { admin } from "./admin";
import { assets } from "./assets";
import { collect } from "./collect";
import { edgeEnabled, serveFromOrigin } from "./edge";
import { errorBody, onError } from "./errors";

export const app = new Hono<AppEnv>();

/** Liveness, and the "empty route" the benchmarks compare the collection path against. */
app.on(["GET", "POST"], "/healthz", (c) => c.json({ ok: true }));

/** The API's OpenAPI document, generated from the routes' own schemas (public: it holds no data). */
app.get("/admin/api/openapi.json", (c) => c.json(openApiDocument()));

app.route("/v1", collect);
app.route("/admin/api", admin);
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
