// Admin routes validate with their declared schemas, and every refusal is the one envelope
// {"error":{"code","message","path"}}: a bad field, a body that is not JSON, a body too large.
import { describe, expect, it } from "vitest";
import { adminCall, createSite } from "./helpers";

type Refusal = { error: { code: string; message: string; path?: string } };

describe("admin request validation", () => {
  it("names the query field at fault", async () => {
    const res = await adminCall("/admin/api/events?limit=0", { role: "viewer" });
    expect(res.status).toBe(400);
    expect(await res.json<Refusal>()).toMatchObject({ error: { code: "invalid_request", path: "limit" } });
  });

  it("names the body field at fault", async () => {
    const site = await createSite({}, "ws_validation");
    const res = await adminCall(`/admin/api/sites/${site.id}`, { method: "PATCH", workspace: "ws_validation", body: JSON.stringify({ retentionDays: "long" }) });
    expect(res.status).toBe(400);
    expect(await res.json<Refusal>()).toMatchObject({ error: { code: "invalid_request", path: "retentionDays" } });
  });

  it("refuses a body that is not JSON", async () => {
    const res = await adminCall("/admin/api/segments", { method: "POST", body: '{"name": "x", ' });
    expect(res.status).toBe(400);
    expect((await res.json<Refusal>()).error.code).toBe("invalid_json");
  });

  it("refuses a body sent as another media type", async () => {
    const res = await adminCall("/admin/api/segments", { method: "POST", headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ name: "x", rule: { trait: "a", op: "exists" } }) });
    expect(res.status).toBe(415);
    expect(await res.json<Refusal>()).toMatchObject({ error: { code: "unsupported_media_type", path: "body" } });
  });

  it("refuses a body larger than 64 KB", async () => {
    const res = await adminCall("/admin/api/segments", { method: "POST", body: JSON.stringify({ name: "x", description: "d".repeat(70_000), rule: { trait: "a", op: "exists" } }) });
    expect(res.status).toBe(413);
    expect((await res.json<Refusal>()).error.code).toBe("payload_too_large");
  });

  it("checks the role before reading the body", async () => {
    const res = await adminCall("/admin/api/segments", { method: "POST", role: "viewer", body: "not json" });
    expect(res.status).toBe(403);
  });
});
