// References between segments and experiences never dangle: an experience may name only segments
// that exist (as a segment's rule may), and a segment that others name is not deleted (409).
import { describe, expect, it } from "vitest";
import { adminCall } from "./helpers";

type Refusal = { error: { code: string; message: string; path?: string }; referencedBy?: { segments: string[]; experiences: string[] } };

async function create(workspace: string, kind: "segments" | "experiences", body: unknown): Promise<{ id: string }> {
  const res = await adminCall(`/admin/api/${kind}`, { method: "POST", workspace, body: JSON.stringify(body) });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json();
}
const experience = (audience: unknown) => ({ name: "E", slot: "hero", audience, variants: [{ id: "a", weight: 1, content: { text: "t" } }] });

describe("an experience's audience", () => {
  it("may not name a segment that does not exist", async () => {
    const res = await adminCall("/admin/api/experiences", { method: "POST", workspace: "ws_ref_missing", body: JSON.stringify(experience({ segment: "seg_shoe_fans" })) });
    expect(res.status).toBe(400);
    const body = await res.json<Refusal>();
    expect(body.error).toMatchObject({ code: "invalid_experience", path: "audience.segment" });
    expect(body.error.message).toContain("seg_shoe_fans");
    const list = await (await adminCall("/admin/api/experiences", { workspace: "ws_ref_missing" })).json<{ experiences: unknown[] }>();
    expect(list.experiences).toEqual([]);
  });

  it("may not name one inside an inline rule, nor be changed to name one", async () => {
    const inline = await adminCall("/admin/api/experiences", { method: "POST", workspace: "ws_ref_inline", body: JSON.stringify(experience({ rule: { any: [{ segment: "seg_nope" }] } })) });
    expect(inline.status).toBe(400);
    expect((await inline.json<Refusal>()).error).toMatchObject({ path: "audience.rule" });

    const made = await create("ws_ref_inline", "experiences", experience({ all: true }));
    const put = await adminCall(`/admin/api/experiences/${made.id}`, { method: "PUT", workspace: "ws_ref_inline", body: JSON.stringify({ audience: { segment: "seg_nope" } }) });
    expect(put.status).toBe(400);
    expect((await put.json<Refusal>()).error).toMatchObject({ path: "audience.segment" });
    const stored = await (await adminCall(`/admin/api/experiences/${made.id}`, { workspace: "ws_ref_inline" })).json<{ audience: unknown; version: number }>();
    expect(stored).toMatchObject({ audience: { all: true }, version: 1 });
  });

  it("names a segment that exists", async () => {
    const segment = await create("ws_ref_ok", "segments", { name: "S", rule: { trait: "plan", op: "eq", value: "pro" } });
    const made = await create("ws_ref_ok", "experiences", experience({ segment: segment.id }));
    expect(made.id).toMatch(/^exp_/);
  });
});

describe("deleting a segment", () => {
  it("is refused while another segment's rule names it, naming that segment", async () => {
    const base = await create("ws_ref_seg", "segments", { name: "Base", rule: { trait: "plan", op: "exists" } });
    const user = await create("ws_ref_seg", "segments", { name: "User", rule: { all: [{ segment: base.id }, { consent: "analytics" }] } });
    const res = await adminCall(`/admin/api/segments/${base.id}`, { method: "DELETE", workspace: "ws_ref_seg" });
    expect(res.status).toBe(409);
    const body = await res.json<Refusal>();
    expect(body.error.code).toBe("segment_in_use");
    expect(body.error.message).toContain(user.id);
    expect(body.referencedBy).toEqual({ segments: [user.id], experiences: [] });
    expect((await adminCall(`/admin/api/segments/${base.id}`, { workspace: "ws_ref_seg" })).status).toBe(200);
  });

  it("is refused while an experience names it, and done once that experience is gone", async () => {
    const segment = await create("ws_ref_exp", "segments", { name: "S", rule: { trait: "plan", op: "exists" } });
    const direct = await create("ws_ref_exp", "experiences", experience({ segment: segment.id }));
    const inline = await create("ws_ref_exp", "experiences", experience({ rule: { not: { segment: segment.id } } }));
    const refused = await adminCall(`/admin/api/segments/${segment.id}`, { method: "DELETE", workspace: "ws_ref_exp" });
    expect(refused.status).toBe(409);
    expect((await refused.json<Refusal>()).referencedBy).toEqual({ segments: [], experiences: [direct.id, inline.id] });

    for (const e of [direct, inline]) expect((await adminCall(`/admin/api/experiences/${e.id}`, { method: "DELETE", workspace: "ws_ref_exp" })).status).toBe(204);
    expect((await adminCall(`/admin/api/segments/${segment.id}`, { method: "DELETE", workspace: "ws_ref_exp" })).status).toBe(204);
    expect((await adminCall(`/admin/api/segments/${segment.id}`, { workspace: "ws_ref_exp" })).status).toBe(404);
  });
});
