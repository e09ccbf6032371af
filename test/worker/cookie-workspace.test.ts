// A visitor cookie is bound to its workspace (issue 10): the HMAC covers the workspace and the id,
// so a cookie of workspace A is ignored in workspace B (and the collection routes replace it);
// cookies signed before that (over the id alone) are accepted until LEGACY_COOKIES_UNTIL.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LEGACY_COOKIES_UNTIL, newVisitorId, signVisitorId, verifyVisitorCookie } from "../../worker/identity/cookie";
import { browserPost, createSite, lookup } from "./helpers";

const SECRET = "a-secret-of-enough-length";
const idOf = (res: Response) => /cohort_id=([\w-]+)\./.exec(res.headers.get("Set-Cookie") ?? "")?.[1];
const cookieOf = (res: Response) => res.headers.get("Set-Cookie")!.split(";")[0]!;

/** A cookie as Cohort signed it before workspaces were signed: HMAC-SHA256 of the id alone. */
async function legacyCookie(id: string, secret: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(id)));
  return `${id}.0.${btoa(String.fromCharCode(...signature)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

describe("workspace-bound visitor cookies", () => {
  it("verifies in the workspace it was signed for, nowhere else", async () => {
    const id = newVisitorId();
    const value = await signVisitorId(id, SECRET, "ws_a");
    expect(await verifyVisitorCookie(value, SECRET, "ws_a")).toBe(id);
    expect(await verifyVisitorCookie(value, SECRET, "ws_b")).toBeUndefined();
  });

  it("accepts a cookie signed over the id alone until LEGACY_COOKIES_UNTIL, then ignores it", async () => {
    const id = newVisitorId();
    const value = await legacyCookie(id, SECRET);
    expect(await verifyVisitorCookie(value, SECRET, "ws_a", LEGACY_COOKIES_UNTIL - 1)).toBe(id);
    expect(await verifyVisitorCookie(value, SECRET, "ws_a", LEGACY_COOKIES_UNTIL)).toBeUndefined();
  });

  it("ignores workspace A's cookie in workspace B and replaces it; A's visitor is not B's", async () => {
    const siteA = await createSite({}, "ws_cookie_a");
    const siteB = await createSite({}, "ws_cookie_b");
    const inA = await browserPost(siteA, "/v1/track", { event: "Viewed" });
    const idA = idOf(inA)!;
    expect(idA).toBeDefined();

    const inB = await browserPost(siteB, "/v1/track", { event: "Viewed" }, { Cookie: cookieOf(inA) });
    expect(inB.status).toBe(200);
    const idB = idOf(inB)!;
    expect(idB).toBeDefined();
    expect(idB).not.toBe(idA);
    expect(await verifyVisitorCookie(cookieOf(inB).split("=")[1], env.COOKIE_SECRET, siteB.workspaceId)).toBe(idB);
    expect((await lookup(`anonymousId=${idA}`, "ws_cookie_b")).status).toBe(404);
    expect((await lookup(`anonymousId=${idB}`, "ws_cookie_b")).status).toBe(200);
    // Back in A, A's cookie still is A's visitor.
    const again = await browserPost(siteA, "/v1/track", { event: "Viewed" }, { Cookie: cookieOf(inA) });
    expect(idOf(again)).toBe(idA);
  });

  it("re-signs a legacy cookie for the workspace that sees it, keeping the visitor", async () => {
    const site = await createSite({}, "ws_cookie_legacy");
    const id = newVisitorId();
    const res = await browserPost(site, "/v1/track", { event: "Viewed" }, { Cookie: `cohort_id=${await legacyCookie(id, env.COOKIE_SECRET)}` });
    expect(res.status).toBe(200);
    expect(idOf(res)).toBe(id);
    const value = cookieOf(res).split("=")[1]!;
    expect(value).not.toBe(await legacyCookie(id, env.COOKIE_SECRET));
    expect(await verifyVisitorCookie(value, env.COOKIE_SECRET, site.workspaceId, LEGACY_COOKIES_UNTIL)).toBe(id);
  });
});
