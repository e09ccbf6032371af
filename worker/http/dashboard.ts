/**
 * The dashboard's page (`/admin`): a single-page app built from dashboard/ into the Worker's assets
 * (public/admin/, dashboard/build.mjs). The page holds no data: it signs in with a token kept in the
 * browser's sessionStorage and calls the admin API like any client. Its scripts and styles are
 * content-hashed files under /admin/, served from the assets; the page itself is revalidated.
 */
import type { Context } from "hono";
import type { AppEnv } from "../env";

/** Only the Worker's own files: no CDN, no inline script, no framing (the page holds a token). */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export async function dashboardPage(c: Context<AppEnv>) {
  const res = await c.env.ASSETS.fetch(new Request(new URL("/admin/index.html", c.req.url)));
  if (!res.ok) return c.text("The dashboard is not built: run `npm run build:dashboard` (npm start does).\n", 503);
  return c.html(await res.text(), 200, {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
  });
}
