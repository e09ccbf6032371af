// Site identity secrets (DESIGN.md §3 "Verified identity"): shown once at creation and on rotation,
// stored sealed (never in clear), readable by the Worker through identitySecretOf, made on first
// use for sites created before them; identityVerification per site.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ensureIdentitySecret, findSiteByKey, identitySecretOf, type Site } from "../../worker/store/sites";
import { adminCall, createSite } from "./helpers";

const storedRow = (id: string) => env.DB.prepare("SELECT * FROM sites WHERE id = ?").bind(id).first<Record<string, unknown>>();
const siteRow = async (id: string) => {
  const [row] = (await env.DB.prepare("SELECT id, identity_secret_sealed AS identitySecretSealed FROM sites WHERE id = ?").bind(id).all<Pick<Site, "id" | "identitySecretSealed">>()).results;
  return row!;
};

describe("a site's identity secret", () => {
  it("is returned once when the site is created, and stored only sealed", async () => {
    const site = await createSite({}, "ws_idsec_create");
    const secret = (site as unknown as { identitySecret: string }).identitySecret;
    expect(secret).toMatch(/^idsec_[0-9a-f]{64}$/);
    const row = await storedRow(site.id);
    expect(Object.values(row!).some((value) => String(value).includes(secret.slice(6)))).toBe(false);
    expect(row!.identity_secret_sealed).toMatch(/^v1\./);
    expect(await identitySecretOf(env, await siteRow(site.id))).toBe(secret);

    const listed = await (await adminCall("/admin/api/sites", { workspace: "ws_idsec_create", role: "viewer" })).json<{ sites: Record<string, unknown>[] }>();
    expect(JSON.stringify(listed)).not.toContain(secret);
    expect(listed.sites[0]).not.toHaveProperty("identitySecret");
    expect(listed.sites[0]).not.toHaveProperty("identitySecretSealed");
  });

  it("is rotated by an admin: the new one is returned once and the old one is gone", async () => {
    const site = await createSite({}, "ws_idsec_rotate");
    const before = (site as unknown as { identitySecret: string }).identitySecret;
    // The Worker's cache of the site (the collection path) holds the old sealed value.
    expect(await identitySecretOf(env, (await findSiteByKey(env.DB, site.writeKey))!)).toBe(before);

    const editor = await adminCall(`/admin/api/sites/${site.id}/identity-secret`, { method: "POST", workspace: "ws_idsec_rotate", role: "editor" });
    expect(editor.status).toBe(403);
    const res = await adminCall(`/admin/api/sites/${site.id}/identity-secret`, { method: "POST", workspace: "ws_idsec_rotate" });
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    const { id, identitySecret } = await res.json<{ id: string; identitySecret: string }>();
    expect(id).toBe(site.id);
    expect(identitySecret).toMatch(/^idsec_[0-9a-f]{64}$/);
    expect(identitySecret).not.toBe(before);
    expect(await identitySecretOf(env, await siteRow(site.id))).toBe(identitySecret);
    expect(await identitySecretOf(env, (await findSiteByKey(env.DB, site.writeKey))!)).toBe(identitySecret);
  });

  it("is not rotated for a site of another workspace", async () => {
    const site = await createSite({}, "ws_idsec_theirs");
    const res = await adminCall(`/admin/api/sites/${site.id}/identity-secret`, { method: "POST", workspace: "ws_idsec_mine" });
    expect(res.status).toBe(404);
    expect(await identitySecretOf(env, await siteRow(site.id))).toBe((site as unknown as { identitySecret: string }).identitySecret);
  });

  it("does not open when its sealed value is copied to another site", async () => {
    const a = await createSite({}, "ws_idsec_copy");
    const b = await createSite({}, "ws_idsec_copy");
    const sealed = (await siteRow(a.id)).identitySecretSealed;
    await env.DB.prepare("UPDATE sites SET identity_secret_sealed = ? WHERE id = ?").bind(sealed, b.id).run();
    await expect(identitySecretOf(env, await siteRow(b.id))).rejects.toThrow(/does not open/);
  });

  it("is made on first use for a site created without one, once", async () => {
    await env.DB.prepare("INSERT INTO workspaces (id, name) VALUES ('ws_idsec_old', 'old') ON CONFLICT DO NOTHING").run();
    await env.DB.prepare("INSERT INTO sites (id, workspace_id, name, write_key, secret_key_hash, origins) VALUES ('site_idsec_old', 'ws_idsec_old', 'Old', 'wk_idsec_old', 'hash_idsec_old', '[]')").run();
    const old = await siteRow("site_idsec_old");
    expect(old.identitySecretSealed).toBeNull();
    expect(await identitySecretOf(env, old)).toBeUndefined();

    const [first, second] = await Promise.all([ensureIdentitySecret(env, old), ensureIdentitySecret(env, old)]);
    expect(first).toMatch(/^idsec_[0-9a-f]{64}$/);
    expect(second).toBe(first);
    expect(await ensureIdentitySecret(env, await siteRow("site_idsec_old"))).toBe(first);
    const row = await storedRow("site_idsec_old");
    expect(row!.identity_secret_sealed).toMatch(/^v1\./);
    expect(row!.identity_verification).toBe("required");
  });
});

describe("identityVerification", () => {
  it('is "required" unless the site says "off", and can be changed', async () => {
    const strict = await createSite({}, "ws_idver");
    expect(strict).toMatchObject({ identityVerification: "required" });
    const open = await createSite({ identityVerification: "off" }, "ws_idver");
    expect(open).toMatchObject({ identityVerification: "off" });

    const patched = await adminCall(`/admin/api/sites/${strict.id}`, { method: "PATCH", workspace: "ws_idver", body: JSON.stringify({ identityVerification: "off" }) });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ id: strict.id, identityVerification: "off" });
    expect((await storedRow(strict.id))!.identity_verification).toBe("off");
    expect((await findSiteByKey(env.DB, strict.writeKey))!.identityVerification).toBe("off");
  });

  it("refuses any other value, naming the field", async () => {
    const res = await adminCall("/admin/api/sites", { method: "POST", workspace: "ws_idver", body: JSON.stringify({ name: "S", origins: ["https://s.example"], identityVerification: "sometimes" }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "invalid_request", path: "identityVerification" } });
  });
});
