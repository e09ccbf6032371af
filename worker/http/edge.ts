/**
 * The edge HTML path (DESIGN.md §1): with `EDGE_ORIGIN` set, the Worker sits on a route in front
 * of the site's origin. Requests that are not Cohort's own are fetched from the origin; an HTML
 * answer is personalised (its `[data-cohort-slot]` elements decided and filled, the tag injected,
 * the response marked private) by `personalise`, which serves the origin's page unchanged on any
 * error or a slow decision. Everything else passes through untouched, streamed.
 */
import { getCookie } from "hono/cookie";
import { decideFor, requestContext } from "../decisions/serve";
import { personalise } from "../decisions/rewrite";
import type { AppContext } from "../env";
import { COOKIE_NAME, verifyVisitorCookie } from "../identity/cookie";
import { profileKey } from "../identity/keys";
import { findEdgeSite } from "../store/sites";

export const edgeEnabled = (env: Env) => Boolean(env.EDGE_ORIGIN);

/** How long the page may wait for decisions before it is served unpersonalised. */
const DECIDE_TIMEOUT_MS = 50;

export async function serveFromOrigin(c: AppContext): Promise<Response> {
  const url = new URL(c.req.url);
  const origin = new URL(c.env.EDGE_ORIGIN);
  const target = new URL(url.pathname + url.search, origin);
  const headers = new Headers(c.req.raw.headers);
  headers.delete("host");
  const upstream = await fetch(target, {
    method: c.req.method,
    headers,
    body: c.req.method === "GET" || c.req.method === "HEAD" ? undefined : c.req.raw.body,
    redirect: "manual",
  });
  if (c.req.method !== "GET") return upstream;
  const site = await findEdgeSite(c.env.DB, c.env.EDGE_SITE_ID || undefined, url.origin).catch(() => undefined);
  if (!site) return upstream;
  return personalise(upstream, {
    timeoutMs: DECIDE_TIMEOUT_MS,
    tag: { writeKey: site.writeKey },
    decideSlots: async (slots) => {
      const started = Date.now();
      const visitorId = await verifyVisitorCookie(getCookie(c, COOKIE_NAME), c.env.COOKIE_SECRET);
      const context = requestContext(
        { page: { url: url.href, path: url.pathname, search: url.search, referrer: c.req.header("Referer") ?? "" } },
        { userAgent: c.req.header("User-Agent"), cf: c.req.raw.cf as Record<string, unknown> | undefined },
      );
      const key = visitorId ? profileKey(site.workspaceId, { anonymousId: visitorId }) : undefined;
      const decided = await decideFor(c.env, { site, slots, context, key, record: false });
      // An exposure is recorded only for content that is served: past the timeout the page goes
      // out unpersonalised and nothing is recorded (the variant stays the same next time: bucketing is stable).
      if (decided.record && Date.now() - started < DECIDE_TIMEOUT_MS) c.executionCtx.waitUntil(decided.record());
      return decided.decisions;
    },
  });
}
