// A browser's userId is a claim (README "Verified identity"): with only the public write key, a
// stranger cannot erase, read or re-consent another person's profile; with the site server's
// userHash the browser is that user.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminCall, browserClaim, browserPost, cookieOf, createSite, drainQueue, eventually, lookup, serverPost } from "../helpers";

const refuseAll = { consent: { categoryPreferences: { Analytics: false, Personalization: false, Advertising: false } } };

describe("an unverified browser userId", () => {
  it("cannot erase the user's profile or archive by refusing consent in their name", async () => {
    const site = await createSite({}, "ws_claim_erase");
    await serverPost(site, "/v1/batch", { batch: [{ type: "identify", userId: "victim", traits: { plan: "pro" } }, { type: "track", userId: "victim", event: "Order Completed" }] });
    await eventually(() => env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE user_id = 'victim'").first<{ n: number }>(), (r) => r?.n === 2);

    const attack = await browserClaim(site, "/v1/track", { userId: "victim", event: "x", context: refuseAll });
    expect(attack.status).toBe(200);
    await drainQueue();
    const profile = await (await lookup("userId=victim", "ws_claim_erase")).json<{ traits: Record<string, unknown>; counters: Record<string, number> }>();
    expect(profile.traits).toEqual({ plan: "pro" });
    expect(profile.counters.total).toBe(2);
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE user_id = 'victim'").first<{ n: number }>())?.n).toBe(2);
    // Later server events are still profiled.
    await serverPost(site, "/v1/track", { userId: "victim", event: "Order Completed" });
    expect((await (await lookup("userId=victim", "ws_claim_erase")).json<{ counters: Record<string, number> }>()).counters.total).toBe(3);
  });

  it("cannot read the user's traits through a decision", async () => {
    const site = await createSite({}, "ws_claim_read");
    await serverPost(site, "/v1/identify", { userId: "victim", traits: { email: "victim@example.com" } });
    const created = await adminCall("/admin/api/experiences", {
      method: "POST",
      workspace: "ws_claim_read",
      body: JSON.stringify({ name: "Greeting", slot: "hello", status: "live", variants: [{ id: "a", weight: 1, content: { text: "Hi {{trait.email|there}}" } }] }),
    });
    expect(created.status).toBe(201);
    const res = await browserClaim(site, "/v1/track?decide=hello", { userId: "victim", event: "Page Seen" });
    expect(res.status).toBe(200);
    const body = await res.json<{ decisions: Record<string, { content: { text: string } }> }>();
    expect(body.decisions.hello?.content.text).toBe("Hi there");
    expect(JSON.stringify(body)).not.toContain("victim@example.com");
  });

  it("cannot change the user's consent, and stays on the browser's own profile as claimedUserId", async () => {
    const site = await createSite({}, "ws_claim_consent");
    // The user refused advertising themselves, from their own (verified) browser.
    const own = await browserPost(site, "/v1/identify", { userId: "victim", context: { consent: { categoryPreferences: { Analytics: true, Personalization: true, Advertising: false } } } });
    expect(own.status).toBe(200);
    const stranger = await browserClaim(site, "/v1/track", { userId: "victim", event: "x", context: { consent: { categoryPreferences: { Analytics: true, Personalization: true, Advertising: true } } } });
    expect(stranger.status).toBe(200);
    const strangerCookie = cookieOf(stranger)!;
    const visitor = /cohort_id=([\w-]+)\./.exec(strangerCookie)![1]!;

    const victim = await (await lookup("userId=victim", "ws_claim_consent")).json<{ consent: { purposes: { advertising: boolean }; sources: { advertising: string } } }>();
    expect(victim.consent.purposes.advertising).toBe(false);
    expect(victim.consent.sources.advertising).toBe("explicit");
    const strangers = await (await lookup(`anonymousId=${visitor}`, "ws_claim_consent")).json<{ consent: { purposes: { advertising: boolean } }; identities: { kind: string; value: string }[] }>();
    expect(strangers.consent.purposes.advertising).toBe(true);
    expect(strangers.identities).not.toContainEqual({ kind: "userId", value: "victim" });
    const archived = await eventually(
      () => env.DB.prepare("SELECT payload, user_id FROM events WHERE anonymous_id = ? AND name = 'x'").bind(visitor).first<{ payload: string; user_id: string | null }>(),
      (r) => r !== null,
    );
    expect(archived!.user_id).toBeNull();
    expect(JSON.parse(archived!.payload).context.claimedUserId).toBe("victim");
  });
});

describe("a verified browser userId", () => {
  it("merges the browser's profile into the user's, and the hash is not stored", async () => {
    const site = await createSite({}, "ws_verified");
    const first = await browserPost(site, "/v1/page", { name: "Home" });
    const cookie = cookieOf(first)!;
    const res = await browserPost(site, "/v1/identify", { userId: "ada", traits: { name: "Ada" } }, { Cookie: cookie });
    expect(res.status).toBe(200);
    const profile = await (await lookup("userId=ada", "ws_verified")).json<{ traits: Record<string, unknown>; counters: Record<string, number> }>();
    expect(profile.traits).toEqual({ name: "Ada" });
    expect(profile.counters).toMatchObject({ total: 2, "type:page": 1, "type:identify": 1 });
    const row = await eventually(() => env.DB.prepare("SELECT payload FROM events WHERE user_id = 'ada'").first<{ payload: string }>(), (r) => r !== null);
    expect(row!.payload).not.toContain("userHash");
  });

  it("refuses a hash made for another userId", async () => {
    const site = await createSite({}, "ws_wrong_hash");
    const { userHashFor } = await import("../helpers");
    const hash = await userHashFor(site, "someone-else");
    const res = await browserClaim(site, "/v1/identify", { userId: "ada", traits: { name: "Mallory" }, context: { identity: { userHash: hash } } });
    expect(res.status).toBe(200);
    expect((await lookup("userId=ada", "ws_wrong_hash")).status).toBe(404);
  });

  it("speaks for one user per request: a second userId is refused by index", async () => {
    const site = await createSite({}, "ws_one_user");
    const res = await browserPost(site, "/v1/batch", {
      batch: [
        { type: "track", userId: "ada", event: "A" },
        { type: "track", userId: "grace", event: "B" },
        { type: "track", userId: "ada", event: "C" },
      ],
    });
    expect(res.status).toBe(200);
    const body = await res.json<{ accepted: number; rejected: { index: number; code: string; path: string }[] }>();
    expect(body.accepted).toBe(2);
    expect(body.rejected).toEqual([expect.objectContaining({ index: 1, code: "too_many_users", path: "batch.1.userId" })]);
    expect((await lookup("userId=grace", "ws_one_user")).status).toBe(404);
  });

  it("is trusted as sent when the site turned verification off", async () => {
    const site = await createSite({ identityVerification: "off" }, "ws_verification_off");
    const res = await browserClaim(site, "/v1/identify", { userId: "ada", traits: { name: "Ada" } });
    expect(res.status).toBe(200);
    expect((await (await lookup("userId=ada", "ws_verification_off")).json<{ traits: Record<string, unknown> }>()).traits).toEqual({ name: "Ada" });
  });
});

describe("bots", () => {
  const crawler = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

  it("a server event forwarding a crawler's user agent keeps its identity", async () => {
    const site = await createSite({}, "ws_bot_server");
    const res = await serverPost(site, "/v1/track", { userId: "u-crawled", event: "Page Rendered", context: { userAgent: crawler } });
    expect(res.status).toBe(200);
    expect((await lookup("userId=u-crawled", "ws_bot_server")).status).toBe(200);
  });

  it("a browser bot without consent is only counted: nothing of its identity is archived", async () => {
    const site = await createSite({}, "ws_bot_browser");
    const res = await browserClaim(site, "/v1/identify", { userId: "u-bot", traits: { email: "bot@example.com" } }, { "User-Agent": crawler }, "FR");
    expect(res.status).toBe(200);
    await drainQueue();
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE site_id = ?").bind(site.id).first<{ n: number }>())?.n).toBe(0);
    expect((await env.DB.prepare("SELECT SUM(count) AS n FROM cookieless_counts WHERE site_id = ?").bind(site.id).first<{ n: number }>())?.n).toBe(1);
  });
});

describe("a browser batch naming many userIds", () => {
  it("touches the cookie's profile and at most one user, however many ids it names", async () => {
    const site = await createSite({}, "ws_fanout");
    const { userHashFor } = await import("../helpers");
    const claims = Array.from({ length: 300 }, (_, i) => ({ type: "track", userId: `claimed-${i}`, event: "Fan Out" }));
    const verified = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => ({ type: "track", userId: `proven-${i}`, event: "Fan Out", context: { identity: { userHash: await userHashFor(site, `proven-${i}`) } } })),
    );
    const res = await browserClaim(site, "/v1/batch", { batch: [...claims, ...verified] });
    expect(res.status).toBe(200);
    const body = await res.json<{ accepted: number; rejected: { code: string }[] }>();
    expect(body.accepted).toBe(301);
    expect(body.rejected).toHaveLength(19);
    expect(new Set(body.rejected.map((r) => r.code))).toEqual(new Set(["too_many_users"]));
    expect((await lookup("userId=proven-0", "ws_fanout")).status).toBe(200);
    for (const id of ["claimed-0", "claimed-299", "proven-1", "proven-19"]) expect((await lookup(`userId=${id}`, "ws_fanout")).status).toBe(404);
    await drainQueue();
    const profiles = await env.DB.prepare("SELECT COUNT(*) AS n FROM profiles WHERE workspace_id = 'ws_fanout'").first<{ n: number }>();
    expect(profiles?.n).toBeLessThanOrEqual(2);
  }, 30_000);
});

describe("the demo's userHash route", () => {
  it("does not exist outside the local demo: no deployed Cohort hands out proofs", async () => {
    const site = await createSite({}, "ws_demo_hash");
    const res = await browserClaim(site, "/v1/demo/user-hash", { userId: "ada" });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: "not_found" } });
  });
});
