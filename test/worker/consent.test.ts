// Consent enforced at every stage: collection, storage, the cookie, revocation, the ledger.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminCall, browserPost, call, createSite, drainQueue, eventually, lookup, SITE_ORIGIN, type TestSite } from "./helpers";
import { tcString } from "./consent-strings";

const idOf = (setCookie: string | null) => /cohort_id=([\w-]+)\./.exec(setCookie ?? "")?.[1];
const cookies = (res: Response) => res.headers.getSetCookie();
const jar = (res: Response) => cookies(res).map((c) => c.split(";")[0]!).filter((c) => !c.endsWith("=")).join("; ");

const archivedFor = (siteId: string) =>
  env.DB.prepare("SELECT * FROM events WHERE site_id = ?").bind(siteId).all<Record<string, unknown>>().then((r) => r.results);

function postConsent(site: TestSite, body: Record<string, unknown>, headers: Record<string, string> = {}, country = "US") {
  return call("/v1/consent", {
    method: "POST",
    cf: { country },
    headers: { Origin: SITE_ORIGIN, "Content-Type": "text/plain", ...headers },
    body: JSON.stringify({ writeKey: site.writeKey, ...body }),
  });
}

describe("collection without consent (cookieless mode)", () => {
  it("sets no cookie, keeps no profile or identifiers, only counts", async () => {
    const site = await createSite();
    const res = await browserPost(site, "/v1/batch", { batch: [{ type: "page", name: "Home" }, { type: "track", event: "Clicked" }, { type: "track", event: "Clicked" }] }, {}, "DE");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ accepted: 3 });
    expect(res.headers.get("Set-Cookie")).toBeNull();
    const report = await eventually(
      async () => (await (await adminCall(`/admin/api/reports/cookieless?siteId=${site.id}`)).json<{ counts: { type: string; name: string; count: number }[] }>()).counts,
      (counts) => counts.length === 2,
    );
    expect(report.map((r) => [r.type, r.name, r.count])).toEqual([
      ["page", "Home", 1],
      ["track", "Clicked", 2],
    ]);
    expect(await archivedFor(site.id)).toEqual([]);
  });

  it("counts a redelivered cookieless event once", async () => {
    const site = await createSite();
    const event = { type: "track", event: "Once", messageId: "cookieless-once" };
    await browserPost(site, "/v1/batch", { batch: [event] }, {}, "FR");
    await browserPost(site, "/v1/batch", { batch: [event] }, {}, "FR");
    const counts = await eventually(
      async () => (await (await adminCall(`/admin/api/reports/cookieless?siteId=${site.id}`)).json<{ counts: { count: number }[] }>()).counts,
      (c) => c.length === 1,
    );
    // Both deliveries have reached the consumer: the count is final, not "not yet two".
    await drainQueue();
    expect((await (await adminCall(`/admin/api/reports/cookieless?siteId=${site.id}`)).json<{ counts: { count: number }[] }>()).counts[0]!.count).toBe(1);
    expect(counts[0]!.count).toBe(1);
  });

  it("applies to an opt-in site anywhere", async () => {
    const site = await createSite({ consentDefaults: { analytics: false, personalization: false, advertising: false } });
    const res = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] }, {}, "US");
    expect(res.headers.get("Set-Cookie")).toBeNull();
  });
});

describe("consent signals on events", () => {
  it("an explicit choice in context.consent.categoryPreferences grants and is remembered", async () => {
    const site = await createSite();
    const res = await browserPost(site, "/v1/batch", { batch: [{ type: "page", context: { consent: { categoryPreferences: { Analytics: true } } } }] }, {}, "DE");
    const id = idOf(res.headers.get("Set-Cookie"));
    expect(id).toBeDefined();
    expect(cookies(res).some((c) => /^cohort_consent=\d+\.1--;/.test(c))).toBe(true);
    const profile = await (await lookup(`anonymousId=${id}`)).json<{ consent: { purposes: Record<string, boolean>; sources: Record<string, string> } }>();
    expect(profile.consent.purposes).toEqual({ necessary: true, analytics: true, personalization: false, advertising: false });
    expect(profile.consent.sources).toEqual({ analytics: "explicit", personalization: "region", advertising: "region" });
    // The next request carries no signal: the cookie's remembered choice still holds.
    const next = await browserPost(site, "/v1/batch", { batch: [{ type: "track", event: "Again" }] }, { Cookie: jar(res) }, "DE");
    expect(idOf(next.headers.get("Set-Cookie"))).toBe(id);
  });

  it("a TC string grants analytics in the EEA, stored on every event with its source", async () => {
    const site = await createSite();
    const messageId = crypto.randomUUID();
    const res = await browserPost(site, "/v1/batch", { batch: [{ type: "page", messageId, context: { consent: { tcString: tcString([1, 8]) } } }] }, {}, "IT");
    expect(idOf(res.headers.get("Set-Cookie"))).toBeDefined();
    const [row] = await eventually(() => archivedFor(site.id), (rows) => rows.length === 1);
    const stored = JSON.parse(row!.payload as string);
    expect(stored.consent).toEqual({
      purposes: { necessary: true, analytics: true, personalization: false, advertising: false },
      sources: { analytics: "tcf", personalization: "tcf", advertising: "tcf" },
      policyVersion: "1",
    });
  });

  it("Sec-GPC turns advertising off and click ids are not stored", async () => {
    const site = await createSite();
    const res = await browserPost(
      site,
      "/v1/batch",
      { batch: [{ type: "page", context: { page: { url: "https://shop.example/?utm_source=g&gclid=SECRET-CLICK", search: "?utm_source=g&gclid=SECRET-CLICK" } } }] },
      { "Sec-GPC": "1" },
    );
    const id = idOf(res.headers.get("Set-Cookie"))!;
    const [row] = await eventually(() => archivedFor(site.id), (rows) => rows.length === 1);
    expect(row!.payload).not.toContain("SECRET-CLICK");
    expect(JSON.parse(row!.payload as string).context.campaign).toEqual({ source: "g" });
    const profile = await (await lookup(`anonymousId=${id}`)).json<{ consent: { purposes: Record<string, boolean>; sources: Record<string, string> } }>();
    expect(profile.consent.purposes.advertising).toBe(false);
    expect(profile.consent.sources.advertising).toBe("gpc");
    expect(JSON.stringify(profile)).not.toContain("SECRET-CLICK");
  });
});

describe("POST /v1/consent", () => {
  it("grants: sets the cookie, answers the resolved purposes, writes the ledger", async () => {
    const site = await createSite();
    const res = await postConsent(site, { purposes: { analytics: true, personalization: true, advertising: false } }, {}, "DE");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      consent: {
        purposes: { necessary: true, analytics: true, personalization: true, advertising: false },
        sources: { analytics: "explicit", personalization: "explicit", advertising: "explicit" },
        policyVersion: "1",
      },
    });
    const id = idOf(res.headers.get("Set-Cookie"));
    expect(id).toBeDefined();
    expect(cookies(res).find((c) => c.startsWith("cohort_id="))).toContain("HttpOnly");
    const ledger = await eventually(
      async () => (await (await adminCall(`/admin/api/consent/ledger?siteId=${site.id}`)).json<{ entries: Record<string, any>[] }>()).entries,
      (e) => e.length === 1,
    );
    expect(ledger[0]).toMatchObject({ policyVersion: "1", consent: { purposes: { analytics: true } }, signals: { country: "DE" } });
    expect(ledger[0]!.subject).toMatch(/^[0-9a-f]{64}$/);
  });

  it("revokes: clears the cookie, drops the profile and its archive; events queued before arrive after and are not kept", async () => {
    const site = await createSite();
    const granted = await postConsent(site, { purposes: { analytics: true, personalization: true } }, {}, "DE");
    const id = idOf(granted.headers.get("Set-Cookie"))!;
    const before = new Date(Date.now() - 1000).toISOString();
    await browserPost(site, "/v1/batch", { batch: [{ type: "track", event: "Kept" }] }, { Cookie: jar(granted) }, "DE");
    expect((await lookup(`anonymousId=${id}`)).status).toBe(200);
    await eventually(() => archivedFor(site.id), (rows) => rows.length === 1);

    const revoked = await postConsent(site, { purposes: { analytics: false, personalization: false } }, { Cookie: jar(granted) }, "DE");
    expect(await revoked.json()).toMatchObject({ consent: { purposes: { analytics: false, personalization: false } } });
    expect(cookies(revoked).some((c) => /^cohort_id=; Max-Age=0;/.test(c))).toBe(true);
    expect((await lookup(`anonymousId=${id}`)).status).toBe(404);

    // A batch the tag queued before the revocation, delivered late with the old identity cookie.
    const consentCookie = cookies(revoked).find((c) => c.startsWith("cohort_consent="))!.split(";")[0];
    const oldId = jar(granted).split("; ").find((c) => c.startsWith("cohort_id="))!;
    const late = await browserPost(site, "/v1/batch", { batch: [{ type: "track", event: "Late", timestamp: before, sentAt: before }] }, { Cookie: `${oldId}; ${consentCookie}` }, "DE");
    expect(late.status).toBe(200);
    expect(cookies(late).some((c) => /^cohort_id=; Max-Age=0;/.test(c))).toBe(true);
    expect((await lookup(`anonymousId=${id}`)).status).toBe(404);
    // The archive forgets what was kept under the withdrawn consent, and keeps nothing late.
    await eventually(() => archivedFor(site.id), (rows) => rows.length === 0);
    // Everything the late batch queued has been consumed: nothing of it was written.
    await drainQueue();
    expect(await archivedFor(site.id)).toEqual([]);
  });

  it("refuses a server key and bad input", async () => {
    const site = await createSite();
    const server = await call("/v1/consent", { method: "POST", headers: { Authorization: `Basic ${btoa(`${site.secretKey}:`)}` }, body: JSON.stringify({ purposes: { analytics: true } }) });
    expect(server.status).toBe(400);
    const bad = await postConsent(site, { purposes: { analytics: "yes" } });
    expect(bad.status).toBe(400);
    expect((await bad.json<{ error: { path: string } }>()).error.path).toBe("purposes.analytics");
  });
});

describe("the consent ledger", () => {
  it("is a hash chain that detects an edited row", async () => {
    const site = await createSite();
    await postConsent(site, { purposes: { analytics: true } }, {}, "DE");
    await postConsent(site, { purposes: { analytics: false } }, {}, "DE");
    await postConsent(site, { purposes: { personalization: true } }, {}, "DE");
    await eventually(
      async () => (await (await adminCall(`/admin/api/consent/ledger?siteId=${site.id}`)).json<{ entries: unknown[] }>()).entries,
      (e) => e.length === 3,
    );
    const verify = () => adminCall(`/admin/api/consent/ledger/verify?siteId=${site.id}`).then((r) => r.json());
    expect(await verify()).toEqual({ valid: true, entries: 3 });
    const [, second] = (await env.DB.prepare("SELECT id FROM consent_ledger WHERE site_id = ? ORDER BY seq").bind(site.id).all<{ id: string }>()).results;
    await env.DB.prepare("UPDATE consent_ledger SET consent = replace(consent, 'false', 'true') WHERE id = ?").bind(second!.id).run();
    expect(await verify()).toMatchObject({ valid: false, brokenAt: second!.id, reason: "its content was changed" });
  });
});

describe("rate limits", () => {
  it("answers 429 with Retry-After past the per-IP limit", async () => {
    const site = await createSite();
    const send = () => browserPost(site, "/v1/batch", { batch: [{ type: "page" }] }, { "CF-Connecting-IP": "198.51.100.7" }, "DE");
    let limited: Response | undefined;
    for (let i = 0; i < 700 && !limited; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, send));
      limited = batch.find((r) => r.status === 429);
    }
    expect(limited).toBeDefined();
    expect(limited!.headers.get("Retry-After")).toBe("60");
    expect((await limited!.json<{ error: { code: string } }>()).error.code).toBe("rate_limited");
    // Another address is not affected.
    const other = await browserPost(site, "/v1/batch", { batch: [{ type: "page" }] }, { "CF-Connecting-IP": "198.51.100.8" }, "DE");
    expect(other.status).toBe(200);
  });
});
