// The destinations admin API as a client sees it: create (secret once), read with stats, list,
// change, delete, roles, and every bad input a 400 envelope naming the field.
import { describe, expect, it } from "vitest";
import { adminCall } from "../helpers";

const WS = "ws_dest_api";
const post = (body: unknown, role: "admin" | "editor" | "viewer" = "editor") =>
  adminCall("/admin/api/destinations", { method: "POST", workspace: WS, role, body: typeof body === "string" ? body : JSON.stringify(body) });

describe("/admin/api/destinations", () => {
  it("creates a webhook (the whsec_ secret once), reads it with stats, lists, changes and deletes it", async () => {
    const res = await post({ name: "Warehouse", type: "webhook", config: { url: "https://hooks.example/cohort" }, events: { types: ["track"], names: ["Order Completed"] } });
    expect(res.status).toBe(201);
    const created = await res.json<any>();
    expect(created).toMatchObject({ name: "Warehouse", type: "webhook", config: { url: "https://hooks.example/cohort" }, purposes: ["analytics"], segments: [], enabled: true, paused: false, pausedReason: null });
    expect(created.secret).toMatch(/^whsec_/);

    const read = await (await adminCall(`/admin/api/destinations/${created.id}`, { workspace: WS, role: "viewer" })).json<any>();
    expect(read.secret).toBeUndefined();
    expect(read.stats).toEqual({ delivered: 0, failed: 0, retrying: 0, pending: 0, filtered: 0 });
    const list = await (await adminCall("/admin/api/destinations", { workspace: WS, role: "viewer" })).json<any>();
    expect(list.destinations.map((d: { id: string }) => d.id)).toEqual([created.id]);

    const patched = await adminCall(`/admin/api/destinations/${created.id}`, { method: "PATCH", workspace: WS, body: JSON.stringify({ enabled: false, purposes: ["analytics", "personalization"] }) });
    expect(await patched.json<any>()).toMatchObject({ enabled: false, paused: false, purposes: ["analytics", "personalization"] });

    const rotated = await adminCall(`/admin/api/destinations/${created.id}/rotate-secret`, { method: "POST", workspace: WS });
    const { secret, previousSecretExpiresAt } = await rotated.json<any>();
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(created.secret);
    expect(Date.parse(previousSecretExpiresAt)).toBeGreaterThan(Date.now());

    expect((await adminCall(`/admin/api/destinations/${created.id}`, { method: "DELETE", workspace: WS })).status).toBe(204);
    expect((await adminCall(`/admin/api/destinations/${created.id}`, { workspace: WS })).status).toBe(404);
  });

  it("is scoped to the token's workspace and needs editor to write", async () => {
    const created = await (await post({ name: "Mine", type: "webhook", config: { url: "https://hooks.example/a" } })).json<any>();
    expect((await adminCall(`/admin/api/destinations/${created.id}`, { workspace: "ws_other" })).status).toBe(404);
    const refused = await post({ name: "Nope", type: "webhook", config: { url: "https://hooks.example/a" } }, "viewer");
    expect(refused.status).toBe(403);
    expect((await refused.json<any>()).error.code).toBe("forbidden");
  });

  it.each([
    [{ name: "", type: "webhook", config: { url: "https://hooks.example/a" } }, "name"],
    [{ name: "X", type: "sftp", config: {} }, "type"],
    [{ name: "X", type: "webhook", config: {} }, "config.url"],
    [{ name: "X", type: "webhook", config: { url: "http://hooks.example/a" } }, "config.url"],
    [{ name: "X", type: "webhook", config: { url: "https://127.0.0.1/a" } }, "config.url"],
    [{ name: "X", type: "webhook", config: { url: "https://169.254.169.254/latest/meta-data" } }, "config.url"],
    [{ name: "X", type: "google_ads", config: { customerId: "123-456-7890", userListId: "1" } }, "config.customerId"],
    [{ name: "X", type: "meta", config: { audienceId: "1", endpoint: "https://localhost/v21.0" } }, "config.endpoint"],
    [{ name: "X", type: "webhook", config: { url: "https://hooks.example/a" }, purposes: ["marketing"] }, "purposes.0"],
    [{ name: "X", type: "webhook", config: { url: "https://hooks.example/a" }, segments: ["seg_missing"] }, "segments.0"],
    [{ name: "X", type: "webhook", config: { url: "https://hooks.example/a" }, events: { kinds: ["track"] } }, "events"],
  ])("refuses %j with a 400 naming %s", async (body, path) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    const { error } = await res.json<any>();
    expect(error.code).toBe("invalid_request");
    expect(error.path).toBe(path);
  });

  it("refuses a body that is not JSON, or too large, with the envelope", async () => {
    const bad = await post("{not json");
    expect(bad.status).toBe(400);
    expect((await bad.json<any>()).error.code).toBeTypeOf("string");
    const plain = await adminCall("/admin/api/destinations", { method: "POST", workspace: WS, headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ name: "X", type: "webhook", config: { url: "https://hooks.example/a" } }) });
    expect(plain.status).toBe(415);
    expect((await plain.json<any>()).error.code).toBeTypeOf("string");
    const huge = await post({ name: "X", type: "webhook", config: { url: "https://hooks.example/a", pad: "x".repeat(70_000) } });
    expect(huge.status).toBe(413);
    expect((await huge.json<any>()).error.code).toBe("payload_too_large");
  });

  it("rejects an unknown status in the deliveries list and a missing destination", async () => {
    const created = await (await post({ name: "List", type: "webhook", config: { url: "https://hooks.example/l" } })).json<any>();
    const res = await adminCall(`/admin/api/destinations/${created.id}/deliveries?status=lost`, { workspace: WS });
    expect(res.status).toBe(400);
    expect((await res.json<any>()).error.path).toBe("status");
    expect((await adminCall("/admin/api/destinations/dst_nope/deliveries", { workspace: WS })).status).toBe(404);
  });
});
