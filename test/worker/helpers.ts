// What the Worker tests share: calling the Worker as a client would, and making sites.
import { env, exports } from "cloudflare:workers";
import { SignJWT } from "jose";
import { expect, vi } from "vitest";
import type { PipelineMessage } from "../../worker/pipeline/messages";

export const BASE = "https://cohort.test";
export const SITE_ORIGIN = "https://shop.example";

export async function adminToken(role: "admin" | "editor" | "viewer" = "admin", workspace = "ws_test"): Promise<string> {
  return new SignJWT({ role, ws: workspace })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer("cohort")
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(env.ADMIN_JWT_SECRET));
}

export function call(path: string, init: RequestInit & { cf?: Record<string, unknown> } = {}): Promise<Response> {
  return exports.default.fetch(new Request(new URL(path, BASE), init as RequestInit));
}

export async function adminCall(path: string, init: RequestInit & { role?: "admin" | "editor" | "viewer"; workspace?: string } = {}) {
  const { role, workspace, ...rest } = init;
  const headers = new Headers(rest.headers);
  headers.set("Authorization", `Bearer ${await adminToken(role, workspace)}`);
  if (rest.body && !headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  return call(path, { ...rest, headers });
}

export interface TestSite {
  id: string;
  workspaceId: string;
  writeKey: string;
  secretKey: string;
  identitySecret: string;
}

/** `hex(HMAC-SHA256(identitySecret, userId))`, as a site's server computes it (README "Verified identity"). */
export async function userHashFor(site: Pick<TestSite, "identitySecret">, userId: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(site.identitySecret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(userId));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The body with every event that names a userId carrying its userHash, as the site's page would send it. */
async function withUserHashes(site: TestSite, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const sign = async (event: Record<string, unknown>) => {
    if (typeof event.userId !== "string" || !site.identitySecret) return event;
    const context = (event.context ?? {}) as Record<string, unknown>;
    return { ...event, context: { ...context, identity: { userHash: await userHashFor(site, event.userId) } } };
  };
  if (Array.isArray(body.batch)) return { ...body, batch: await Promise.all(body.batch.map((e) => (typeof e === "object" && e !== null ? sign(e as Record<string, unknown>) : e))) };
  return sign(body);
}

export async function createSite(overrides: Record<string, unknown> = {}, workspace = "ws_test"): Promise<TestSite> {
  const res = await adminCall("/admin/api/sites", {
    method: "POST",
    workspace,
    body: JSON.stringify({ name: "Shop", origins: [SITE_ORIGIN], ...overrides }),
  });
  expect(res.status).toBe(201);
  return res.json();
}

/** Posts JSON from a server source (secret key in Basic auth). */
export function serverPost(site: TestSite, path: string, body: unknown, headers: Record<string, string> = {}) {
  return call(path, {
    method: "POST",
    headers: { Authorization: `Basic ${btoa(`${site.secretKey}:`)}`, "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/**
 * Posts like the tag does on the site's own pages: text/plain from an allowed origin, write key in
 * the body, from a visitor in `country` (default US, where the site's consent defaults apply).
 * Every userId comes with the userHash the site's server computed: use `browserClaim` for a
 * browser that only claims one.
 */
export async function browserPost(site: TestSite, path: string, body: Record<string, unknown>, headers: Record<string, string> = {}, country = "US") {
  return browserClaim(site, path, await withUserHashes(site, body), headers, country);
}

/** Posts like `browserPost`, but sends userIds as they are: unverified claims. */
export function browserClaim(site: TestSite, path: string, body: Record<string, unknown>, headers: Record<string, string> = {}, country = "US") {
  return call(path, {
    method: "POST",
    cf: { country },
    headers: {
      Origin: SITE_ORIGIN,
      "Content-Type": "text/plain",
      "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
      ...headers,
    },
    body: JSON.stringify({ writeKey: site.writeKey, ...body }),
  });
}

export async function lookup(query: string, workspace = "ws_test") {
  return adminCall(`/admin/api/profiles/lookup?${query}`, { workspace, role: "viewer" });
}

/** D1 rows are written by the queue consumer, a moment after the request. */
export async function eventually<T>(read: () => Promise<T>, until: (value: T) => boolean, timeout = 8000): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await read();
      if (!until(value)) throw new Error("not yet");
      return value;
    },
    { timeout, interval: 100 },
  );
}

/**
 * Waits until the EVENTS queue has delivered everything sent before this call: a marker goes in
 * behind it, and the consumer's write of the marker is awaited. Batches leave the local queue in
 * order, one at a time, so when the marker is written so is everything queued before it (a message
 * the consumer asked to retry comes back later). What a test asserts is absent after this was never
 * written, rather than not yet.
 */
export async function drainQueue(): Promise<void> {
  const messageId = `drain-${crypto.randomUUID()}`;
  const marker: PipelineMessage = { kind: "cookieless", siteId: "__drain__", day: new Date().toISOString().slice(0, 10), type: "track", name: "drain", messageId };
  await env.EVENTS.send(marker, { contentType: "json" });
  await eventually(
    () => env.DB.prepare("SELECT 1 AS n FROM cookieless_seen WHERE site_id = '__drain__' AND message_id = ?").bind(messageId).first(),
    (row) => row !== null,
    30_000,
  );
}

export function cookieOf(res: Response): string | undefined {
  return res.headers.get("Set-Cookie")?.split(";")[0];
}
