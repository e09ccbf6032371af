/** Assembles the HTTP surface: routes are mounted here and nowhere else. */
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { admin } from "./admin";
import { assets } from "./assets";
import { collect } from "./collect";
import { errorBody, onError } from "./errors";

export const app = new Hono<AppEnv>();

/** Liveness, and the "empty route" the benchmarks compare the collection path against. */
app.on(["GET", "POST"], "/healthz", (c) => c.json({ ok: true }));

app.route("/v1", collect);
app.route("/admin/api", admin);
app.route("/", assets);
app.onError(onError);
app.notFound(async (c) => {
  if (c.req.method === "GET" || c.req.method === "HEAD") {
    const res = await c.env.ASSETS.fetch(c.req.raw);
    if (res.status !== 404) return res;
  }
  return c.json(errorBody("not_found", `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`), 404);
});
