// Templates render inert through the API (issue 10, attack 6): a `javascript:` trait in
// `<a href="{{trait.website}}">` comes out as an empty link, and `<img src={{trait.x}}>` is refused
// when the experience is saved, with the error's path.
import { describe, expect, it } from "vitest";
import { adminCall, createSite, serverPost } from "./helpers";

const WORKSPACE = "ws_template_safety";

describe("html templates through the API", () => {
  it("renders a javascript: trait in a quoted href as an empty link", async () => {
    const site = await createSite({}, WORKSPACE);
    const res = await adminCall("/admin/api/experiences", {
      method: "POST",
      workspace: WORKSPACE,
      body: JSON.stringify({ name: "Site link", slot: "card", status: "live", variants: [{ id: "a", weight: 1, content: { html: '<a href="{{trait.website}}">Your site</a>' } }] }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const identify = await serverPost(site, "/v1/identify", { userId: "u-js", traits: { website: "javascript:alert(document.domain)" } });
    expect(identify.status).toBe(200);
    const decided = await serverPost(site, "/v1/decide", { userId: "u-js", slots: ["card"] });
    expect(decided.status).toBe(200);
    const body = await decided.json<{ decisions: Record<string, { content: { html: string } }> }>();
    expect(body.decisions.card!.content.html).toBe('<a href="">Your site</a>');
  });

  it("refuses an unquoted placeholder in an attribute with 400 and the path", async () => {
    const res = await adminCall("/admin/api/experiences", {
      method: "POST",
      workspace: WORKSPACE,
      body: JSON.stringify({ name: "Avatar", slot: "avatar", variants: [{ id: "a", weight: 1, content: { html: "<img src={{trait.x}}>" } }] }),
    });
    expect(res.status).toBe(400);
    const body = await res.json<{ error: { code: string; message: string; path: string } }>();
    expect(body.error.path).toBe("variants.0.content.html");
    expect(body.error.message).toContain('src="{{…}}"');
  });
});
