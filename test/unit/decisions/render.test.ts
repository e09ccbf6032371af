// Rendering: placeholders filled with the visitor's values, escaped in HTML templates, raw in
// text and attributes (escaped where they are written), never read from prototypes, and an
// attribute that turns unsafe once filled is dropped.
import { describe, expect, it } from "vitest";
import { escapeHtml, fill, render } from "../../../worker/decisions/render";

const values = {
  traits: { firstName: "Ada", evil: '<script>alert("x")</script>', n: 3, address: { city: "Paris" }, site: "javascript:alert(1)" },
  context: { utm: { campaign: "spring & summer" }, geo: { country: "FR" } },
};

describe("render", () => {
  it.each([
    ["Hi {{trait.firstName}}!", "Hi Ada!"],
    ["Hi {{ trait.firstName | there }}!", "Hi Ada!"],
    ["Hi {{trait.lastName|there}}!", "Hi there!"],
    ["Hi {{trait.lastName}}!", "Hi !"],
    ["{{trait.n}} items", "3 items"],
    ["{{trait.address.city}}", "Paris"],
    ["{{trait.address}}", ""],
    ["{{trait.constructor}}{{trait.__proto__}}{{trait.toString}}", ""],
    ["{{context.utm.campaign}} in {{context.geo.country}}", "spring & summer in FR"],
    ["{{profile.x}} {{trait}}", "{{profile.x}} {{trait}}"],
  ])("text %j → %j", (template, expected) => {
    expect(render({ text: template }, values)).toEqual({ text: expected });
  });

  it("escapes every value in an HTML template, and keeps the template's own HTML", () => {
    expect(render({ html: '<p class="hi">Hi {{trait.evil}} from {{context.utm.campaign}} {{trait.x|<b>}}</p>' }, values)).toEqual({
      html: '<p class="hi">Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; from spring &amp; summer &lt;b&gt;</p>',
    });
  });

  it("fills attribute values and drops one that became a javascript: URL", () => {
    expect(render({ attributes: { href: "{{trait.site}}", title: "{{trait.evil}}", class: "promo" } }, values)).toEqual({
      attributes: { title: '<script>alert("x")</script>', class: "promo" },
    });
  });

  it("leaves json alone", () => {
    const json = { json: { a: "{{trait.firstName}}" } };
    expect(render(json, values)).toBe(json);
  });

  it("escapes the five HTML-significant characters", () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe("&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;");
    expect(fill("{{trait.firstName}}", {})).toBe("");
  });
});
