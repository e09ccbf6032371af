// Decisions in the request path: targeted in the same response as the event that qualifies,
// gone when the visitor leaves, contextual without consent, exposures recorded once, sticky.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminCall, browserPost, call, createSite, drainQueue, eventually, serverPost, SITE_ORIGIN, type TestSite } from "./helpers";

type Decisions = Record<string, { experience: string; variant: string; content: Record<string, unknown> }>;

async function create(workspace: string, path: string, body: unknown): Promise<{ id: string }> {
  const res = await adminCall(`/admin/api/${path}`, { method: "POST", workspace, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}

const track = (site: TestSite, userId: string, event: string, decide = "hero") =>
  serverPost(site, `/v1/track?decide=${decide}`, { userId, event, context: { page: { url: "https://shop.example/?utm_source=news" } } }).then((r) =>
    r.json<{ decisions?: Decisions }>(),
  );

describe("decisions on collection", () => {
  it("the event that completes a segment returns the targeted decision in the same response, and it goes when the visitor leaves", async () => {
    const site = await createSite({}, "ws_dec_flow");
    const segment = await create("ws_dec_flow", "segments", {
      name: "Shoe browsers",
      rule: { all: [{ event: "Product Viewed", count: { op: "gte", value: 2 } }, { not: { event: "Order Completed" } }] },
    });
    const experience = await create("ws_dec_flow", "experiences", {
      name: "Shoe hero",
      slot: "hero",
      status: "live",
      audience: { segment: segment.id },
      variants: [{ id: "a", weight: 1, content: { text: "Shoes for you" } }],
    });
    expect((await track(site, "u-flow", "Product Viewed")).decisions).toEqual({});
    expect((await track(site, "u-flow", "Product Viewed")).decisions).toEqual({ hero: { experience: experience.id, variant: "a", content: { text: "Shoes for you" } } });
    expect((await track(site, "u-flow", "Order Completed")).decisions).toEqual({});
  });

  it("records the first exposure once, as an Experiment Viewed event", async () => {
    const site = await createSite({}, "ws_dec_exposure");
    const experience = await create("ws_dec_exposure", "experiences", {
      name: "Everyone",
      slot: "hero",
      status: "live",
      variants: [{ id: "a", weight: 1, content: { text: "A" } }, { id: "b", weight: 1, content: { text: "B" } }],
    });
    const first = await track(site, "u-exp", "Page");
    const again = await track(site, "u-exp", "Page");
    expect(again.decisions).toEqual(first.decisions);
    const rows = await eventually(
      () => env.DB.prepare("SELECT payload FROM events WHERE user_id = 'u-exp' AND name = 'Experiment Viewed'").all<{ payload: string }>().then((r) => r.results),
      (r) => r.length === 1,
    );
    // Both requests' events have been consumed: one exposure is the final count.
    await drainQueue();
    const after = await env.DB.prepare("SELECT COUNT(*) AS n FROM events WHERE user_id = 'u-exp' AND name = 'Experiment Viewed'").first<{ n: number }>();
    expect(after!.n).toBe(1);
    expect(JSON.parse(rows[0]!.payload).properties).toEqual({ experiment_id: experience.id, experiment_name: "Everyone", variation_id: first.decisions!.hero!.variant });
  });

  it("keeps an exposed visitor's variant when the weights change", async () => {
    const site = await createSite({}, "ws_dec_sticky");
    const experience = await create("ws_dec_sticky", "experiences", {
      name: "Split",
      slot: "hero",
      status: "live",
      variants: [{ id: "a", weight: 1, content: { text: "A" } }, { id: "b", weight: 1, content: { text: "B" } }],
    });
    const users = Array.from({ length: 12 }, (_, i) => `u-sticky-${i}`);
    const before = await Promise.all(users.map((u) => track(site, u, "Page")));
    const seen = before.map((r) => r.decisions!.hero!.variant);
    const shift = seen.includes("a") ? { a: 1, b: 1000 } : { a: 1000, b: 1 };
    const put = await adminCall(`/admin/api/experiences/${experience.id}`, {
      method: "PUT",
      workspace: "ws_dec_sticky",
      body: JSON.stringify({ variants: [{ id: "a", weight: shift.a, content: { text: "A" } }, { id: "b", weight: shift.b, content: { text: "B" } }] }),
    });
    expect(put.status).toBe(200);
    // The isolate's experience cache was refreshed by the change; exposed visitors do not move.
    const after = await Promise.all(users.map((u) => track(site, u, "Page")));
    expect(after.map((r) => r.decisions!.hero!.variant)).toEqual(seen);
  });
});

describe("consent", () => {
  it("without personalisation consent, only context-based experiences decide", async () => {
    const site = await createSite({ consentDefaults: { personalization: false } }, "ws_dec_consent");
    await create("ws_dec_consent", "experiences", {
      name: "Profile-based",
      slot: "hero",
      status: "live",
      priority: 10,
      audience: { rule: { trait: "plan", op: "eq", value: "pro" } },
      variants: [{ id: "p", weight: 1, content: { text: "For pros" } }],
    });
    const contextual = await create("ws_dec_consent", "experiences", {
      name: "Newsletter readers",
      slot: "hero",
      status: "live",
      priority: 1,
      audience: { rule: { context: "utm.source", op: "eq", value: "news" } },
      variants: [{ id: "c", weight: 1, content: { text: "Welcome, reader" } }],
    });
    await serverPost(site, "/v1/identify", { userId: "u-noperso", traits: { plan: "pro" } });
    expect((await track(site, "u-noperso", "Page")).decisions).toEqual({ hero: { experience: contextual.id, variant: "c", content: { text: "Welcome, reader" } } });
    // The same visitor with personalisation gets the profile-based one.
    await serverPost(site, "/v1/track", { userId: "u-noperso", event: "Consent", context: { consent: { categoryPreferences: { personalization: true } } } });
    expect((await track(site, "u-noperso", "Page")).decisions!.hero!.variant).toBe("p");
  });
});

describe("POST /v1/decide", () => {
  it("decides for a browser by its cookie, and for a server by userId", async () => {
    const site = await createSite({}, "ws_dec_api");
    await create("ws_dec_api", "experiences", {
      name: "Greeting",
      slot: "greeting",
      status: "live",
      audience: { rule: { trait: "name", op: "exists" } },
      variants: [{ id: "g", weight: 1, content: { html: "<b>Hi {{trait.name}}</b>" } }],
    });
    await serverPost(site, "/v1/identify", { userId: "u-api", traits: { name: "<script>alert(1)</script>" } });
    const server = await call("/v1/decide", {
      method: "POST",
      headers: { Authorization: `Basic ${btoa(`${site.secretKey}:`)}` },
      body: JSON.stringify({ slots: ["greeting", "absent"], userId: "u-api" }),
    });
    expect(await server.json()).toMatchObject({ decisions: { greeting: { content: { html: "<b>Hi &lt;script&gt;alert(1)&lt;/script&gt;</b>" } } } });

    const browser = await browserPost(site, "/v1/batch", { batch: [{ type: "identify", userId: "u-api-browser", traits: { name: "Ada" } }] });
    const cookie = browser.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const decided = await call("/v1/decide", {
      method: "POST",
      cf: { country: "US" },
      headers: { Origin: SITE_ORIGIN, Cookie: cookie, "Content-Type": "text/plain" },
      body: JSON.stringify({ writeKey: site.writeKey, slots: ["greeting"] }),
    });
    expect(await decided.json()).toMatchObject({ decisions: { greeting: { content: { html: "<b>Hi Ada</b>" } } } });
  });

  it.each([
    [{ slots: [] }, "slots"],
    [{ slots: ["bad slot!"] }, "slots.0"],
    [{ slots: ["hero"] }, "userId"],
  ])("refuses %j, naming %s", async (body, path) => {
    const site = await createSite({}, "ws_dec_bad");
    const res = await call("/v1/decide", { method: "POST", headers: { Authorization: `Basic ${btoa(`${site.secretKey}:`)}` }, body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { path: string } }>()).error.path).toBe(path);
  });

  it("refuses a malformed decide context with a 400", async () => {
    const site = await createSite({}, "ws_dec_ctx");
    const res = await call("/v1/decide", {
      method: "POST",
      headers: { Authorization: `Basic ${btoa(`${site.secretKey}:`)}` },
      body: JSON.stringify({ slots: ["hero"], userId: "u", context: { campaign: "x", page: { url: "https://shop.example/" } } }),
    });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { path: string } }>()).error.path).toBe("context.campaign");
  });
});

describe("the experiences API", () => {
  it.each([
    [{ name: "x", slot: "hero", variants: [] }, "variants"],
    [{ name: "x", slot: "hero", variants: [{ id: "a", weight: 1, content: { attributes: { onclick: "x()" } } }] }, "variants.0.content"],
    [{ name: "x", slot: "hero", audience: { rule: { trait: "a", op: "nope", value: 1 } }, variants: [{ id: "a", weight: 1, content: { text: "t" } }] }, "audience.rule.op"],
  ])("refuses %j, naming %s", async (body, path) => {
    const res = await adminCall("/admin/api/experiences", { method: "POST", workspace: "ws_dec_admin", body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { path: string } }>()).error.path).toContain(path);
  });

  it("lists, reads, updates and deletes", async () => {
    const created = await create("ws_dec_crud", "experiences", { name: "E", slot: "hero", variants: [{ id: "a", weight: 1, content: { text: "t" } }] });
    const list = await adminCall("/admin/api/experiences", { workspace: "ws_dec_crud", role: "viewer" }).then((r) => r.json<{ experiences: { id: string; status: string }[] }>());
    expect(list.experiences.map((e) => [e.id, e.status])).toEqual([[created.id, "draft"]]);
    const updated = await adminCall(`/admin/api/experiences/${created.id}`, { method: "PUT", workspace: "ws_dec_crud", body: JSON.stringify({ status: "live" }) }).then((r) => r.json<{ status: string; version: number }>());
    expect(updated).toMatchObject({ status: "live", version: 2 });
    expect((await adminCall(`/admin/api/experiences/${created.id}`, { method: "DELETE", workspace: "ws_dec_crud" })).status).toBe(204);
    expect((await adminCall(`/admin/api/experiences/${created.id}`, { workspace: "ws_dec_crud" })).status).toBe(404);
  });
});

describe("assignments across sign-in", () => {
  it("keeps the variant a visitor saw before signing in", async () => {
    const site = await createSite({}, "ws_dec_signin");
    await create("ws_dec_signin", "experiences", {
      name: "Ten ways",
      slot: "hero",
      status: "live",
      variants: Array.from({ length: 10 }, (_, i) => ({ id: `v${i}`, weight: 1, content: { text: `V${i}` } })),
    });
    for (let i = 0; i < 6; i++) {
      const first = await browserPost(site, "/v1/batch?decide=hero", { batch: [{ type: "page" }] });
      const before = (await first.json<{ decisions: Decisions }>()).decisions.hero!.variant;
      const cookie = first.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
      const after = await browserPost(site, "/v1/batch?decide=hero", { batch: [{ type: "identify", userId: `u-signin-${i}` }] }, { Cookie: cookie });
      expect((await after.json<{ decisions: Decisions }>()).decisions.hero!.variant).toBe(before);
    }
  });
});
