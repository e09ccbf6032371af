// One browser, one profile, without the cookie (README "Trust model"): analytics.js and RudderStack's
// SDK post cross-origin without credentials, so the browser is named by the anonymousId its SDK
// keeps. That id is a claim anyone with the public write key can send: it names an anonymous
// profile (first binding wins), never mints a cookie, and never reaches a user's profile unless the
// request verified that user.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminCall, browserClaim, browserPost, cookieOf, createSite, drainQueue, lookup, serverPost, type TestSite } from "../helpers";

interface Profile {
  key: string;
  identities: { kind: string; value: string }[];
  traits: Record<string, unknown>;
  counters: Record<string, number>;
  consent: { purposes: Record<string, boolean>; sources: Record<string, string> };
  recentEvents: { event?: string }[];
}

const profileOf = async (query: string, workspace: string): Promise<Profile | null> => {
  const res = await lookup(query, workspace);
  return res.status === 404 ? null : res.json<Profile>();
};
const events = (profile: Profile | null) => (profile?.recentEvents ?? []).map((e) => e.event).filter(Boolean);
const visitorOf = (cookie: string) => /cohort_id=([\w-]+)\./.exec(cookie)![1]!;

/** A browser with the Cohort cookie (the tag's first page view gave it one). */
async function cookieBrowser(site: TestSite): Promise<{ cookie: string; visitor: string }> {
  const res = await browserPost(site, "/v1/page", { name: "Home" });
  const cookie = cookieOf(res)!;
  return { cookie, visitor: visitorOf(cookie) };
}

describe("a browser's SDK anonymousId without the cookie", () => {
  it("names one profile for every request of that browser, and no cookie is minted from it", async () => {
    const site = await createSite({}, "ws_ajs_one");
    const anonymousId = crypto.randomUUID();
    for (const event of ["Viewed", "Clicked", "Bought"]) {
      const res = await browserClaim(site, "/v1/t", { type: "track", event, anonymousId, userId: null });
      expect(res.status).toBe(200);
      expect(res.headers.get("Set-Cookie")).toBeNull();
    }
    const profile = await profileOf(`anonymousId=${anonymousId}`, "ws_ajs_one");
    expect(profile!.key).toBe(`ws_ajs_one:anon:${anonymousId}`);
    expect(profile!.counters).toMatchObject({ total: 3, "event:Bought": 1 });
    await drainQueue();
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM profiles WHERE workspace_id = 'ws_ajs_one'").first<{ n: number }>())?.n).toBe(1);
  });

  it("is bound to the cookie's profile when a request carries both; later cookieless requests and the site's server land there", async () => {
    const site = await createSite({}, "ws_ajs_bind");
    const { cookie, visitor } = await cookieBrowser(site);
    const anonymousId = crypto.randomUUID();
    expect((await browserClaim(site, "/v1/t", { type: "track", event: "With Cookie", anonymousId }, { Cookie: cookie })).status).toBe(200);
    expect((await browserClaim(site, "/v1/t", { type: "track", event: "Without Cookie", anonymousId })).status).toBe(200);
    expect((await serverPost(site, "/v1/track", { anonymousId, event: "From The Server" })).status).toBe(200);

    const byAnonymousId = await profileOf(`anonymousId=${anonymousId}`, "ws_ajs_bind");
    expect(byAnonymousId!.key).toBe(`ws_ajs_bind:anon:${visitor}`);
    expect(byAnonymousId!.identities).toContainEqual({ kind: "anonymousId", value: anonymousId });
    expect(events(byAnonymousId)).toEqual(expect.arrayContaining(["With Cookie", "Without Cookie", "From The Server"]));
    expect(byAnonymousId!.counters.total).toBe(4);
  });

  it("is followed by a server's identify: the browser's bound profile merges into the user", async () => {
    const site = await createSite({}, "ws_ajs_server_identify");
    const { cookie } = await cookieBrowser(site);
    const anonymousId = crypto.randomUUID();
    await browserClaim(site, "/v1/t", { type: "track", event: "Browsed", anonymousId }, { Cookie: cookie });
    expect((await serverPost(site, "/v1/identify", { userId: "grace", anonymousId, traits: { plan: "pro" } })).status).toBe(200);
    const user = await profileOf("userId=grace", "ws_ajs_server_identify");
    expect(events(user)).toContain("Browsed");
    expect(user!.counters).toMatchObject({ total: 3, "type:page": 1 });
  });

  it("erased by it (a privacy request naming the SDK's id), the browser's profile goes and the id brings nothing back", async () => {
    const site = await createSite({}, "ws_ajs_erase");
    const { cookie, visitor } = await cookieBrowser(site);
    const anonymousId = crypto.randomUUID();
    await browserClaim(site, "/v1/t", { type: "track", event: "Browsed", anonymousId }, { Cookie: cookie });
    await drainQueue();
    const erased = await adminCall("/admin/api/privacy/erase", { method: "POST", workspace: "ws_ajs_erase", body: JSON.stringify({ anonymousId }) });
    expect(erased.status).toBe(200);
    expect(await erased.json()).toMatchObject({ status: "done" });
    expect(await profileOf(`anonymousId=${visitor}`, "ws_ajs_erase")).toBeNull();
    expect(await profileOf(`anonymousId=${anonymousId}`, "ws_ajs_erase")).toBeNull();

    // A later cookieless event with the id, and another cookie's attempt to bind it: nothing is kept.
    await browserClaim(site, "/v1/t", { type: "track", event: "After Erasure", anonymousId });
    const stranger = await cookieBrowser(site);
    await browserClaim(site, "/v1/t", { type: "track", event: "Stranger", anonymousId }, { Cookie: stranger.cookie });
    expect(await profileOf(`anonymousId=${anonymousId}`, "ws_ajs_erase")).toBeNull();
    expect((await profileOf(`anonymousId=${stranger.visitor}`, "ws_ajs_erase"))!.identities).not.toContainEqual({ kind: "anonymousId", value: anonymousId });
  });

  it("refuses a second anonymousId in one request (a browser speaks for one visitor)", async () => {
    const site = await createSite({}, "ws_ajs_two");
    const res = await browserClaim(site, "/v1/batch", { batch: [{ type: "track", event: "A", anonymousId: "first-id" }, { type: "track", event: "B", anonymousId: "second-id" }] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 1, rejected: [{ index: 1, code: "too_many_visitors", path: "batch.1.anonymousId" }] });
    expect(await profileOf("anonymousId=second-id", "ws_ajs_two")).toBeNull();
  });
});

describe("attacks on the binding (anyone can send any anonymousId with the public write key)", () => {
  it("an attacker's cookie cannot capture an anonymousId that already has a profile", async () => {
    const site = await createSite({}, "ws_attack_profile");
    const victimId = crypto.randomUUID();
    await browserClaim(site, "/v1/t", { type: "track", event: "Victim Before", anonymousId: victimId });
    const attacker = await cookieBrowser(site);
    expect((await browserClaim(site, "/v1/t", { type: "track", event: "Attacker", anonymousId: victimId }, { Cookie: attacker.cookie })).status).toBe(200);
    await browserClaim(site, "/v1/t", { type: "track", event: "Victim After", anonymousId: victimId });

    const victim = await profileOf(`anonymousId=${victimId}`, "ws_attack_profile");
    expect(victim!.key).toBe(`ws_attack_profile:anon:${victimId}`);
    expect(events(victim)).toEqual(expect.arrayContaining(["Victim Before", "Victim After"]));
    expect(events(victim)).not.toContain("Attacker");
    const attackers = await profileOf(`anonymousId=${attacker.visitor}`, "ws_attack_profile");
    expect(events(attackers)).toEqual(["Attacker"]);
    expect(events(attackers)).not.toContain("Victim After");
    expect(attackers!.identities).not.toContainEqual({ kind: "anonymousId", value: victimId });
  });

  it("an attacker's cookie cannot re-bind an anonymousId bound to another browser", async () => {
    const site = await createSite({}, "ws_attack_rebind");
    const victim = await cookieBrowser(site);
    const victimId = crypto.randomUUID();
    await browserClaim(site, "/v1/t", { type: "track", event: "Victim Bound", anonymousId: victimId }, { Cookie: victim.cookie });
    const attacker = await cookieBrowser(site);
    await browserClaim(site, "/v1/t", { type: "track", event: "Attacker", anonymousId: victimId }, { Cookie: attacker.cookie });
    await browserClaim(site, "/v1/t", { type: "track", event: "Victim Cookieless", anonymousId: victimId });

    expect((await profileOf(`anonymousId=${victimId}`, "ws_attack_rebind"))!.key).toBe(`ws_attack_rebind:anon:${victim.visitor}`);
    expect(events(await profileOf(`anonymousId=${victim.visitor}`, "ws_attack_rebind"))).toEqual(expect.arrayContaining(["Victim Bound", "Victim Cookieless"]));
    expect(events(await profileOf(`anonymousId=${attacker.visitor}`, "ws_attack_rebind"))).toEqual(["Attacker"]);
  });

  it("an attacker cannot bind an anonymousId that only holds a refusal of consent", async () => {
    const site = await createSite({}, "ws_attack_refused");
    const victimId = crypto.randomUUID();
    const refuse = { consent: { categoryPreferences: { Analytics: false, Personalization: false, Advertising: false } } };
    await browserClaim(site, "/v1/t", { type: "track", event: "Refused", anonymousId: victimId, context: refuse });
    const attacker = await cookieBrowser(site);
    await browserClaim(site, "/v1/t", { type: "track", event: "Attacker", anonymousId: victimId }, { Cookie: attacker.cookie });
    // The victim changes their mind: their events stay theirs.
    await browserClaim(site, "/v1/t", { type: "track", event: "Victim Accepts", anonymousId: victimId, context: { consent: { categoryPreferences: { Analytics: true } } } });
    expect(events(await profileOf(`anonymousId=${attacker.visitor}`, "ws_attack_refused"))).toEqual(["Attacker"]);
    expect((await profileOf(`anonymousId=${victimId}`, "ws_attack_refused"))!.key).toBe(`ws_attack_refused:anon:${victimId}`);
  });

  describe("an anonymousId merged into a user's profile", () => {
    async function signedInVictim(workspace: string) {
      const site = await createSite({}, workspace);
      const victimId = crypto.randomUUID();
      await browserClaim(site, "/v1/p", { type: "page", name: "Home", anonymousId: victimId });
      // The victim signs in with analytics.js, the userHash from the site's server (browserPost signs).
      const identify = await browserPost(site, "/v1/i", { type: "identify", userId: "victim", anonymousId: victimId, traits: { email: "victim@example.com" } });
      expect(identify.status).toBe(200);
      const created = await adminCall("/admin/api/experiences", {
        method: "POST",
        workspace,
        body: JSON.stringify({ name: "Greeting", slot: "hello", status: "live", variants: [{ id: "a", weight: 1, content: { text: "Hi {{trait.email|there}}" } }] }),
      });
      expect(created.status).toBe(201);
      const before = await profileOf("userId=victim", workspace);
      expect(before!.counters).toMatchObject({ total: 2, "type:page": 1 });
      return { site, victimId, before: before! };
    }

    it("is not a way into the user's data: no decision from it, no event, no consent change, no cookie", async () => {
      const { site, victimId, before } = await signedInVictim("ws_attack_merged");
      const refuse = { consent: { categoryPreferences: { Analytics: false, Personalization: false, Advertising: false } } };
      const res = await browserClaim(site, "/v1/t?decide=hello", { type: "track", event: "Attacker", anonymousId: victimId, userId: "victim", context: refuse });
      expect(res.status).toBe(200);
      expect(res.headers.get("Set-Cookie") ?? "").not.toContain("cohort_id=");
      const body = await res.json<{ decisions: Record<string, { content: { text: string } }> }>();
      expect(JSON.stringify(body)).not.toContain("victim@example.com");
      const granted = await browserClaim(site, "/v1/t?decide=hello", { type: "track", event: "Attacker Again", anonymousId: victimId });
      expect(JSON.stringify(await granted.json())).not.toContain("victim@example.com");

      await drainQueue();
      const after = await profileOf("userId=victim", "ws_attack_merged");
      expect(after!.counters).toEqual(before.counters);
      expect(after!.traits).toEqual({ email: "victim@example.com" });
      expect(after!.consent.purposes).toEqual(before.consent.purposes);
      expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE site_id = ? AND name LIKE 'Attacker%'").bind(site.id).first<{ n: number }>())?.n).toBe(0);
    });

    it("cannot be captured by an attacker's cookie either", async () => {
      const { site, victimId, before } = await signedInVictim("ws_attack_merged_cookie");
      const attacker = await cookieBrowser(site);
      const res = await browserClaim(site, "/v1/t?decide=hello", { type: "track", event: "Attacker", anonymousId: victimId }, { Cookie: attacker.cookie });
      expect(JSON.stringify(await res.json())).not.toContain("victim@example.com");
      expect((await profileOf(`anonymousId=${victimId}`, "ws_attack_merged_cookie"))!.key).toBe("ws_attack_merged_cookie:user:victim");
      const attackers = await profileOf(`anonymousId=${attacker.visitor}`, "ws_attack_merged_cookie");
      expect(events(attackers)).toContain("Attacker");
      expect(attackers!.identities).not.toContainEqual({ kind: "anonymousId", value: victimId });
      expect((await profileOf("userId=victim", "ws_attack_merged_cookie"))!.counters).toEqual(before.counters);
    });

    it("still reaches the user when the request proves the user (userHash with the call)", async () => {
      const { site, victimId } = await signedInVictim("ws_merged_verified");
      const res = await browserPost(site, "/v1/t?decide=hello", { type: "track", event: "Signed In", anonymousId: victimId, userId: "victim" });
      expect(res.status).toBe(200);
      expect((await res.json<{ decisions: Record<string, { content: { text: string } }> }>()).decisions.hello?.content.text).toBe("Hi victim@example.com");
      expect(events(await profileOf("userId=victim", "ws_merged_verified"))).toContain("Signed In");
    });
  });
});
