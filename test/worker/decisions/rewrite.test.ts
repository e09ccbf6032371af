// The edge HTML path inside workerd (real HTMLRewriter): slots filled, values escaped, the tag
// injected, cache headers marked; non-HTML and oversized pages pass through streaming; a throwing
// or slow decide, or a broken decisions object, serves the origin's page byte for byte.
import { describe, expect, it } from "vitest";
import type { WireDecisions } from "../../../worker/collect/wire";
import { decide } from "../../../worker/decisions/choose";
import { parseExperience } from "../../../worker/decisions/schema";
import { addVary, personalise, privateCacheControl } from "../../../worker/decisions/rewrite";

const PAGE = `<!doctype html><html><head><title>Shop</title></head><body>
<h1 data-cohort-slot="hero" class="big cohort-hide">Welcome</h1>
<a data-cohort-slot="cta" href="/default">Shop now</a>
<div data-cohort-slot="banner"><p>Default banner</p></div>
<p data-cohort-slot="untouched">Keep me</p>
<!-- <p data-cohort-slot="commented">x</p> -->
<script>var s = '<p data-cohort-slot="in-script">';</script>
</body></html>`;

const origin = (body: BodyInit | null = PAGE, headers: Record<string, string> = {}, status = 200) =>
  new Response(body, { status, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "public, max-age=600, s-maxage=3600", etag: '"v1"', vary: "Accept-Encoding", ...headers } });

const decisions: WireDecisions = {
  hero: { experience: "e1", variant: "a", content: { text: "<b>Shoes</b> for you" } },
  cta: { experience: "e2", variant: "b", content: { attributes: { href: "/shoes", title: 'Say "hi" <now>', onclick: "alert(1)" } } },
  banner: { experience: "e3", variant: "a", content: { html: "<strong>New in</strong>" } },
};

describe("personalise", () => {
  it("fills the slots found on the page, deciding once for all of them", async () => {
    const asked: string[][] = [];
    const response = await personalise(origin(), { decideSlots: async (slots) => (asked.push(slots), decisions) });
    const html = await response.text();
    expect(asked).toEqual([["hero", "cta", "banner", "untouched"]]);
    expect(html).toContain('<h1 data-cohort-slot="hero" class="big" data-cohort-done="">&lt;b&gt;Shoes&lt;/b&gt; for you</h1>');
    expect(html).toContain('href="/shoes"');
    expect(html).toContain('title="Say &quot;hi&quot; <now>"');
    expect(html).not.toContain("onclick");
    expect(html).toContain('<div data-cohort-slot="banner" data-cohort-done=""><strong>New in</strong></div>');
    expect(html).toContain('<p data-cohort-slot="untouched" data-cohort-done="">Keep me</p>');
    expect(html).toContain('<!-- <p data-cohort-slot="commented">x</p> -->');
  });

  it("marks a personalised page private and varying by cookie, without the origin's ETag and length", async () => {
    const response = await personalise(origin(PAGE, { "content-length": String(PAGE.length) }), { decideSlots: async () => decisions });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("private, max-age=600");
    expect(response.headers.get("vary")).toBe("Accept-Encoding, Cookie");
    expect(response.headers.get("etag")).toBeNull();
    expect(response.headers.get("content-length")).toBeNull();
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
  });

  it("renders a <script> in a trait value inert, in a text and in an HTML template", async () => {
    const parsed = parseExperience({
      name: "x",
      slot: "hero",
      status: "live",
      variants: [{ id: "a", weight: 1, content: { html: "<em>Hi {{trait.name}}</em>" } }],
    });
    const text = parseExperience({ name: "y", slot: "cta", status: "live", variants: [{ id: "a", weight: 1, content: { text: "Hi {{trait.name}}" } }] });
    if (!parsed.ok || !text.ok) throw new Error("invalid test experience");
    const evil = "<script>alert(document.cookie)</script><img src=x onerror=alert(1)>";
    const { decisions: decided } = decide({
      experiences: [{ ...parsed.experience, id: "x" }, { ...text.experience, id: "y" }],
      slots: ["hero", "cta"],
      profile: { key: "k", assignments: {}, matches: () => true, traits: { name: evil } },
      contextMatches: () => true,
      personalization: true,
      now: Date.now(),
      requestKey: "r",
    });
    const html = await (await personalise(origin(), { decideSlots: async () => decided })).text();
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("<em>Hi &lt;script&gt;alert(document.cookie)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</em>");
    expect(html).toContain(">Hi &lt;script&gt;alert(document.cookie)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</a>");
  });

  it("injects the stub and the tag into <head>, once", async () => {
    const html = await (await personalise(origin(), { decideSlots: async () => ({}), tag: { writeKey: 'wk_"1' } })).text();
    expect(html).toMatch(/<title>Shop<\/title><script>window\.cohort=window\.cohort\|\|function\(\)\{\(cohort\.q=cohort\.q\|\|\[\]\)\.push\(arguments\)\}<\/script><script async src="\/t\.js" data-key="wk_&quot;1"><\/script><\/head>/);
    const already = PAGE.replace("</head>", '<script async src="https://c.example/t.js" data-key="wk_1"></script></head>');
    const again = await (await personalise(origin(already), { decideSlots: async () => ({}), tag: { writeKey: "wk_1" } })).text();
    expect(again.match(/t\.js/g)).toHaveLength(1);
  });

  it("a page without slots is only given the tag, and stays cacheable", async () => {
    const plain = "<html><head></head><body><p>Hello</p></body></html>";
    let asked = false;
    const response = await personalise(origin(plain), { decideSlots: async () => ((asked = true), {}), tag: { writeKey: "wk_1" } });
    expect(asked).toBe(false);
    expect(await response.text()).toContain('data-key="wk_1"');
    expect(response.headers.get("cache-control")).toBe("public, max-age=600, s-maxage=3600");
    const untouched = await personalise(origin(plain), { decideSlots: async () => ({}) });
    expect(await untouched.text()).toBe(plain);
  });

  describe("fail-open: the origin's page, byte for byte", () => {
    const bytes = new TextEncoder().encode(PAGE);
    const cases: [string, () => Promise<WireDecisions>][] = [
      ["a throwing decide", async () => Promise.reject(new Error("profile unavailable"))],
      ["a decide that throws synchronously", () => {
        throw new Error("boom");
      }],
      ["a slow decide", () => new Promise((resolve) => setTimeout(() => resolve(decisions), 300))],
      ["a decide answering null", async () => null as unknown as WireDecisions],
      ["a decide answering nonsense content", async () => ({ hero: { experience: "e", variant: "a", content: { get text(): string { throw new Error("bad"); } } } })],
    ];
    it.each(cases)("%s", async (_, decideSlots) => {
      const reasons: string[] = [];
      const response = await personalise(origin(bytes), { decideSlots, timeoutMs: 50, onFallback: (reason) => reasons.push(reason), tag: { writeKey: "wk_1" } });
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
      expect(response.headers.get("cache-control")).toBe("public, max-age=600, s-maxage=3600");
      expect(response.headers.get("etag")).toBe('"v1"');
      expect(reasons).toHaveLength(1);
    });
  });

  describe("pass-through", () => {
    it.each([
      ["JSON", origin('{"a":1}', { "content-type": "application/json" })],
      ["an image", origin(new Uint8Array([137, 80, 78, 71]), { "content-type": "image/png" })],
      ["an error page", origin(PAGE, {}, 500)],
      ["a redirect", new Response(null, { status: 302, headers: { location: "/x" } })],
    ])("%s is returned as is, not read", async (_, response) => {
      let asked = false;
      const out = await personalise(response, { decideSlots: async () => ((asked = true), decisions) });
      expect(out).toBe(response);
      expect(out.bodyUsed).toBe(false);
      expect(asked).toBe(false);
    });

    it("streams a non-HTML body: the first chunk arrives before the origin has finished", async () => {
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      const writer = writable.getWriter();
      const out = await personalise(new Response(readable, { headers: { "content-type": "text/css" } }), { decideSlots: async () => decisions });
      const reader = out.body!.getReader();
      void writer.write(new TextEncoder().encode("body{}"));
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toBe("body{}");
      await writer.close();
      expect((await reader.read()).done).toBe(true);
    });

    it("streams a page over maxBytes unchanged, what was buffered first", async () => {
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      const writer = writable.getWriter();
      const encoder = new TextEncoder();
      void writer.write(encoder.encode(PAGE.slice(0, 100)));
      void writer.write(encoder.encode(PAGE.slice(100, 200)));
      const out = await personalise(new Response(readable, { headers: { "content-type": "text/html" } }), { decideSlots: async () => decisions, maxBytes: 150 });
      const reader = out.body!.getReader();
      const chunks: string[] = [];
      chunks.push(new TextDecoder().decode((await reader.read()).value));
      chunks.push(new TextDecoder().decode((await reader.read()).value));
      void writer.write(encoder.encode(PAGE.slice(200))).then(() => writer.close());
      for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(new TextDecoder().decode(r.value));
      expect(chunks.join("")).toBe(PAGE);
    });
  });
});

describe("headers", () => {
  it.each([
    [null, "private"],
    ["public, max-age=60", "private, max-age=60"],
    ["s-maxage=10, max-age=5, Private", "private, max-age=5"],
    ["no-store", "private, no-store"],
  ])("Cache-Control %s → %s", (value, expected) => {
    expect(privateCacheControl(value)).toBe(expected);
  });

  it.each([
    [null, "Cookie"],
    ["Accept-Encoding", "Accept-Encoding, Cookie"],
    ["cookie", "cookie"],
    ["*", "*"],
  ])("Vary %s → %s", (value, expected) => {
    expect(addVary(value, "Cookie")).toBe(expected);
  });
});
