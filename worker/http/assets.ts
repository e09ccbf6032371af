/**
 * Static assets the Worker fronts: the tag (`/t.js`, and `/t.<hash>.js` for pinned versions) and,
 * in local development, the demo shop at `/`.
 */
import { Hono } from "hono";
import { demoEnabled, type AppEnv } from "../env";
import { findSiteForOrigin } from "../store/sites";
import { edgeEnabled, serveFromOrigin } from "./edge";

export const assets = new Hono<AppEnv>();

/** `/t.js` is the URL in every snippet: cached for an hour, revalidated in the background. */
assets.get("/t.js", async (c) => {
  const res = await c.env.ASSETS.fetch(new Request(new URL("/t.js", c.req.url)));
  const out = new Response(res.body, res);
  out.headers.set("Cache-Control", "public, max-age=3600, stale-while-revalidate=86400");
  out.headers.set("Access-Control-Allow-Origin", "*");
  return out;
});

/** A content-hashed tag never changes: cached for a year. */
assets.get("/:file{t\\.[0-9a-f]{8}\\.js}", async (c) => {
  const res = await c.env.ASSETS.fetch(new Request(new URL(`/${c.req.param("file")}`, c.req.url)));
  const out = new Response(res.body, res);
  if (res.ok) out.headers.set("Cache-Control", "public, max-age=31536000, immutable");
  return out;
});

assets.get("/", async (c) => {
  if (!demoEnabled(c.env) && edgeEnabled(c.env)) return serveFromOrigin(c);
  if (!demoEnabled(c.env)) return c.text("Cohort is running. The collection API is at /v1, the admin API at /admin/api.\n");
  const origin = new URL(c.req.url).origin;
  const site = await findSiteForOrigin(c.env.DB, origin);
  if (!site) return c.text(`No site allows ${origin} yet: run \`npm start\`, which creates the demo site.\n`, 503);
  const page = await c.env.ASSETS.fetch(new Request(new URL("/demo/index.html", c.req.url)));
  const html = (await page.text()).replaceAll("%%WRITE_KEY%%", site.writeKey);
  return c.html(html, 200, { "Cache-Control": "no-store" });
});
