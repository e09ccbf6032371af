// The admin API basics: tokens, roles, workspaces, sites and profile lookup.
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { adminCall, adminToken, call, createSite, serverPost } from "./helpers";

const sign = (claims: Record<string, unknown>, secret = env.ADMIN_JWT_SECRET, issuer = "cohort") =>
  new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuer(issuer).setExpirationTime("1h").sign(new TextEncoder().encode(secret));

describe("authentication", () => {
  it("needs a bearer token", async () => {
    const res = await call("/admin/api/sites");
    expect(res.status).toBe(401);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("missing_token");
  });

  it.each([
    ["a token signed with another secret", () => sign({ role: "admin", ws: "w" }, "not-the-secret")],
    ["a token without a role", () => sign({ ws: "w" })],
    ["a token with an unknown role", () => sign({ role: "root", ws: "w" })],
    ["a token from another issuer", () => sign({ role: "admin", ws: "w" }, env.ADMIN_JWT_SECRET, "elsewhere")],
    ["a token without an expiry", () => new SignJWT({ role: "admin", ws: "w" }).setProtectedHeader({ alg: "HS256" }).setIssuer("cohort").sign(new TextEncoder().encode(env.ADMIN_JWT_SECRET))],
    ["an expired token", () => new SignJWT({ role: "admin", ws: "w" }).setProtectedHeader({ alg: "HS256" }).setIssuer("cohort").setExpirationTime(Math.floor(Date.now() / 1000) - 10).sign(new TextEncoder().encode(env.ADMIN_JWT_SECRET))],
  ])("refuses %s", async (_name, token) => {
    const res = await call("/admin/api/sites", { headers: { Authorization: `Bearer ${await token()}` } });
    expect(res.status).toBe(401);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("invalid_token");
  });

  it("enforces roles", async () => {
    const body = JSON.stringify({ name: "S", origins: ["https://s.example"] });
    const viewer = await adminCall("/admin/api/sites", { method: "POST", role: "viewer", body });
    expect(viewer.status).toBe(403);
    const editor = await adminCall("/admin/api/sites", { method: "POST", role: "editor", body });
    expect(editor.status).toBe(403);
    const list = await adminCall("/admin/api/sites", { role: "viewer" });
    expect(list.status).toBe(200);
  });
});

describe("sites", () => {
  it("are created with a write key and a secret key shown once", async () => {
    const res = await adminCall("/admin/api/sites", {
      method: "POST",
      workspace: "ws_sites",
      body: JSON.stringify({ name: "Store", origins: ["https://store.example"], cookieDomain: "store.example" }),
    });
    expect(res.status).toBe(201);
    const site = await res.json<Record<string, unknown>>();
    expect(site).toMatchObject({ name: "Store", workspaceId: "ws_sites", origins: ["https://store.example"], cookieDomain: "store.example", enabled: true });
    expect(site.writeKey).toMatch(/^wk_[0-9a-f]{24}$/);
    expect(site.secretKey).toMatch(/^sk_[0-9a-f]{48}$/);
    expect(site).not.toHaveProperty("secretKeyHash");
    const stored = await env.DB.prepare("SELECT secret_key_hash FROM sites WHERE id = ?").bind(site.id).first<{ secret_key_hash: string }>();
    expect(stored!.secret_key_hash).not.toContain(site.secretKey);
    const listed = await (await adminCall("/admin/api/sites", { workspace: "ws_sites" })).json<{ sites: Record<string, unknown>[] }>();
    expect(listed.sites.map((s) => s.id)).toEqual([site.id]);
    expect(listed.sites[0]).not.toHaveProperty("secretKey");
  });

  it.each([
    [{ origins: ["https://ok.example"] }, "name"],
    [{ name: "S", origins: [] }, "origins"],
    [{ name: "S", origins: ["not a url"] }, "origins.0"],
    [{ name: "S", origins: ["https://ok.example"], cookieDomain: "bad domain" }, "cookieDomain"],
  ])("refuses %j, naming %s", async (body, path) => {
    const res = await adminCall("/admin/api/sites", { method: "POST", body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { path: string } }>()).error.path).toBe(path);
  });

  it("are scoped to the token's workspace", async () => {
    const other = await createSite({}, "ws_other");
    const res = await adminCall(`/admin/api/sites/${other.id}`, { method: "PATCH", workspace: "ws_test", body: JSON.stringify({ enabled: false }) });
    expect(res.status).toBe(404);
  });
});

describe("profile lookup", () => {
  it("finds a profile by userId within the workspace only", async () => {
    const site = await createSite({}, "ws_lookup");
    await serverPost(site, "/v1/identify", { userId: "u-look", traits: { plan: "pro" } });
    const found = await adminCall("/admin/api/profiles/lookup?userId=u-look", { workspace: "ws_lookup", role: "viewer" });
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({
      key: "ws_lookup:user:u-look",
      traits: { plan: "pro" },
      counters: { total: 1 },
      segments: [],
      identities: [{ kind: "userId", value: "u-look" }],
    });
    const elsewhere = await adminCall("/admin/api/profiles/lookup?userId=u-look", { workspace: "ws_test" });
    expect(elsewhere.status).toBe(404);
  });

  it("needs exactly one of userId and anonymousId", async () => {
    const none = await adminCall("/admin/api/profiles/lookup");
    expect(none.status).toBe(400);
    const both = await adminCall("/admin/api/profiles/lookup?userId=a&anonymousId=b");
    expect(both.status).toBe(400);
  });
});

describe("the OpenAPI document", () => {
  it("describes the API from the routes' own schemas, without a token", async () => {
    const res = await call("/admin/api/openapi.json");
    expect(res.status).toBe(200);
    const doc = await res.json<{ openapi: string; paths: Record<string, Record<string, any>> }>();
    expect(doc.openapi).toBe("3.1.0");
    const batch = doc.paths["/v1/batch"]!.post.requestBody.content["application/json"].schema;
    expect(batch.required).toContain("batch");
    const site = doc.paths["/admin/api/sites"]!.post.requestBody.content["application/json"].schema;
    expect(site.required).toEqual(expect.arrayContaining(["name", "origins"]));
    expect(doc.paths["/admin/api/profiles/lookup"]!.get.parameters.map((p: { name: string }) => p.name)).toEqual(["userId", "anonymousId"]);
    // Every documented path answers (with its auth and an empty body: a 4xx at worst, never a
  // 404 for the route, never a 5xx).
    const token = await adminToken("admin");
    for (const path of Object.keys(doc.paths)) {
      const concrete = path.replace("{writeKey}", "wk_none").replace("{id}", "none");
      for (const method of Object.keys(doc.paths[path]!)) {
        const answer = await call(concrete, { method: method.toUpperCase(), headers: { Authorization: `Bearer ${token}` }, body: method === "get" || method === "delete" ? undefined : "{}" });
        const body = await answer.text();
        expect(body, `${method} ${path}`).not.toContain(`No route for`);
        expect(answer.status, `${method} ${path}: ${body}`).toBeLessThan(500);
      }
    }
  });
});
