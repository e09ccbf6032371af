// Placeholders in HTML templates cannot become markup (issue 10, attack 6): a value in a URL
// attribute is checked like an `attributes` URL after filling, and a placeholder that could open
// an attribute or an element, or fill script or CSS, is refused when the experience is saved.
import { describe, expect, it } from "vitest";
import { fillHtml, render } from "../../../worker/decisions/render";
import { parseExperience } from "../../../worker/decisions/schema";
import { scanTemplate } from "../../../worker/decisions/template";

const experience = (html: string) => ({ name: "T", slot: "hero", variants: [{ id: "a", weight: 1, content: { html } }] });

describe("URL attributes in html templates", () => {
  it.each([
    ['<a href="{{trait.website}}">site</a>', "javascript:alert(document.domain)", '<a href="">site</a>'],
    ['<a href="{{trait.website}}">site</a>', " JaVa\tScRiPt:alert(1)", '<a href="">site</a>'],
    ['<a href="{{trait.website}}">site</a>', "jav&#x09;ascript:alert(1)", '<a href="jav&amp;#x09;ascript:alert(1)">site</a>'],
    ["<a href='{{trait.website}}'>site</a>", "data:text/html,<script>alert(1)</script>", "<a href=''>site</a>"],
    ['<img src="{{trait.website}}">', "vbscript:msgbox(1)", '<img src="">'],
    ['<img srcset="/a.png 1x, {{trait.website}} 2x">', "javascript:alert(1)", '<img srcset="">'],
    ['<form action="{{trait.website}}"><button formaction="{{trait.website}}">go</button></form>', "javascript:alert(1)", '<form action=""><button formaction="">go</button></form>'],
    ['<video poster="{{trait.website}}"></video>', "data:image/svg+xml,<svg onload=alert(1)>", '<video poster=""></video>'],
    ['<a href="java{{trait.website}}">site</a>', "script:alert(1)", '<a href="">site</a>'],
    ['<a href="{{trait.website}}">site</a>', "https://example.com/?a=1&b=2", '<a href="https://example.com/?a=1&amp;b=2">site</a>'],
    ['<a href="/u/{{trait.website}}">site</a>', "javascript:alert(1)", '<a href="/u/javascript:alert(1)">site</a>'],
    ['<a title="{{trait.website}}">site</a>', "javascript:alert(1)", '<a title="javascript:alert(1)">site</a>'],
  ])("%s with %j → %s", (html, website, expected) => {
    expect(render({ html }, { traits: { website } })).toEqual({ html: expected });
  });

  it("a quoted value cannot close its quotes", () => {
    expect(fillHtml('<a href="{{trait.x}}" title=\'{{trait.x}}\'>', { traits: { x: `" onmouseover="alert(1)' x='` } })).toBe(
      '<a href="&quot; onmouseover=&quot;alert(1)&#39; x=&#39;" title=\'&quot; onmouseover=&quot;alert(1)&#39; x=&#39;\'>',
    );
  });
});

describe("placeholders refused at save", () => {
  it.each([
    ["an unquoted attribute value", "<img src={{trait.x}}>", "src="],
    ["an unquoted value with spaces in the placeholder", "<img src={{ trait.x }} alt=x>", "src="],
    ["an unquoted value after a prefix", "<a href=/u/{{trait.x}}>me</a>", "href="],
    ["a placeholder as an attribute", "<a {{trait.x}}>me</a>", "open an attribute"],
    ["a placeholder in an attribute name", "<a data-{{ trait.x }}=1>me</a>", "open an attribute"],
    ["a placeholder after the tag name", "<a{{ trait.x }}>me</a>", "name an element"],
    ["a placeholder that could open an element", "<{{trait.tag}}>", "open an element"],
    ["an event handler", '<a onclick="go(\'{{trait.x}}\')">me</a>', "onclick"],
    ["a style attribute", '<p style="color: {{trait.x}}">hi</p>', "style"],
    ["an srcdoc", '<iframe srcdoc="{{trait.x}}"></iframe>', "srcdoc"],
    ["a script", "<script>var name = '{{trait.x}}';</script>", "<script>"],
    ["a style element", "<style>p { color: {{trait.x}} }</style>", "<style>"],
  ])("%s: %s", (_, html, reason) => {
    const parsed = parseExperience(experience(html));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.path).toBe("variants.0.content.html");
    expect(parsed.error.message).toContain(reason);
  });

  it.each([
    '<p class="greeting">Hi {{trait.firstName|there}}!</p>',
    '<a href="{{trait.website}}" title=\'{{trait.name}}\'>{{trait.name}}</a>',
    "<!-- {{trait.x}} --><p>{{trait.x}}</p>",
    '<img src="/img/{{context.geo.country}}.png" alt="">',
    "<p>1 < 2 and {{trait.x}}</p>",
    "<script>var static = 1;</script><p>{{trait.x}}</p>",
  ])("accepts %s", (html) => {
    expect(parseExperience(experience(html)).ok).toBe(true);
    expect(scanTemplate(html).refused).toEqual([]);
  });

  it("renders a refused placeholder as nothing, should one be stored from before the check", () => {
    expect(render({ html: "<img src={{trait.x}}><p>{{trait.x}}</p>" }, { traits: { x: "x onerror=alert(1)" } })).toEqual({ html: "<img src=><p>x onerror=alert(1)</p>" });
  });
});
