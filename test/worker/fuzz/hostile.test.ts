// Hostile shapes from issue 10 (property-based, fast-check, fixed seed):
// - long consent strings: whatever a TC or GPP string holds, decoding never throws, answers every
//   purpose or nothing, reads a TC string's purposes from its head alone (a tail of any length
//   changes nothing), and /v1/consent answers without a 5xx while /healthz answers alongside;
// - URL-valued traits in templates: whatever the trait (obfuscated `javascript:`, `data:`, quotes,
//   angle brackets), the rendered HTML, parsed by HTMLRewriter, has exactly the template's elements
//   and attributes, and no URL attribute a browser would run.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fillHtml } from "../../../worker/decisions/render";
import { parseExperience } from "../../../worker/decisions/schema";
import { decodeGpp, MAX_CONSENT_STRING, purposesFromTcString } from "../../../worker/consent/signals";
import { tcString } from "../consent-strings";
import { browserPost, call, createSite } from "../helpers";
import { hostileTcString } from "../hostile-strings";

const SEED = 20261202;
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const PURPOSES = ["analytics", "personalization", "advertising"];

const base64url = (maxLength: number) => fc.string({ unit: fc.constantFrom(...BASE64URL), maxLength });
const purposeSet = fc.uniqueArray(fc.integer({ min: 1, max: 11 }), { maxLength: 11 });

/** Consent strings of every shape and length up to the bound (and a little past it). */
const consentString = fc.oneof(
  base64url(MAX_CONSENT_STRING + 16),
  fc.array(base64url(3000), { minLength: 1, maxLength: 6 }).map((parts) => parts.join(".")),
  fc.array(base64url(2000), { minLength: 1, maxLength: 6 }).map((parts) => parts.join("~")),
  fc.tuple(purposeSet, base64url(8000)).map(([p, tail]) => `${tcString(p, { global: true }).split(".")[0]}${tail}`),
  fc.tuple(purposeSet, fc.integer({ min: 1000, max: 8000 })).map(([p, length]) => hostileTcString(p.length ? p : [1], length)),
  fc.string({ maxLength: 500 }),
);

const isAnswer = (value: unknown) =>
  value === undefined || (typeof value === "object" && value !== null && PURPOSES.every((p) => typeof (value as Record<string, unknown>)[p] === "boolean"));

describe("long consent strings", () => {
  it("decode to every purpose or nothing, never throwing", () => {
    fc.assert(
      fc.property(consentString, (value) => {
        expect(isAnswer(purposesFromTcString(value))).toBe(true);
        const gpp = decodeGpp(value);
        expect(gpp === undefined || (typeof gpp.advertisingOptOut === "boolean" && isAnswer(gpp.tcf))).toBe(true);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("a TC string's purposes come from its head: any tail leaves them as they are", () => {
    fc.assert(
      fc.property(purposeSet, base64url(8000), (purposes, tail) => {
        const core = tcString(purposes, { global: true }).split(".")[0]!;
        expect(purposesFromTcString(core + tail)).toEqual(purposesFromTcString(core));
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("/v1/consent answers every one without a 5xx, and /healthz answers alongside", async () => {
    const site = await createSite({}, "ws_fuzz_hostile");
    await fc.assert(
      fc.asyncProperty(consentString, fc.boolean(), async (value, asGpp) => {
        const [consent, health] = await Promise.all([browserPost(site, "/v1/consent", asGpp ? { gppString: value } : { tcString: value }, {}, "IT"), call("/healthz")]);
        expect(health.status).toBe(200);
        expect(consent.status, (await consent.clone().text()).slice(0, 200)).toBeLessThan(500);
        if (value.trim() && value.length <= MAX_CONSENT_STRING) expect(consent.status).toBe(200);
      }),
      { seed: SEED, numRuns: 25 },
    );
  });
});

/** A URL a browser would run, dressed up the ways browsers still read as a scheme. */
const dangerousUrl = fc
  .tuple(
    fc.constantFrom("javascript", "vbscript", "data"),
    fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
    fc.constantFrom("", " ", "\t", "\n", "\u0001", "\u0000"),
    fc.constantFrom("", "\t", "\n", "\r"),
    fc.constantFrom(":", "&colon;", "&#58;", "&#x3a;"),
    fc.constantFrom("alert(1)", "text/html,<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "' onmouseover='alert(1)"),
  )
  .map(([scheme, upper, lead, inner, colon, rest]) => lead + [...scheme].map((ch, i) => (upper[i] ? ch.toUpperCase() : ch) + (i === 1 ? inner : "")).join("") + colon + rest);

const urlTrait = fc.oneof(dangerousUrl, fc.webUrl(), fc.string({ maxLength: 80 }), fc.constantFrom('" onerror="alert(1)', "x onerror=alert(1)", "</a><script>alert(1)</script>", "'><svg onload=alert(1)>"));

const TEMPLATES = [
  '<a href="{{trait.u}}">link</a>',
  "<a href='{{trait.u}}' title=\"{{trait.u}}\">link</a>",
  '<img src="{{trait.u}}" alt="" srcset="/a.png 1x, {{trait.u}} 2x">',
  '<form action="{{trait.u}}"><button formaction="{{trait.u}}">go</button></form>',
  '<video poster="{{trait.u}}" src="/v.mp4"></video>',
  '<a href="java{{trait.u}}">x</a><p>{{trait.u}}</p>',
  '<iframe src="{{trait.u}}"></iframe>',
];

/** What a browser reads from an attribute value: character references decoded. */
const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", tab: "\t", newline: "\n", colon: ":" };
function decodeAttribute(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);?/gi, (match, ref: string) => {
    if (ref[0] === "#") return String.fromCodePoint(Math.min(ref[1]!.toLowerCase() === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10), 0x10ffff));
    return ENTITIES[ref.toLowerCase()] ?? match;
  });
}
const runs = (url: string) => /^(javascript|vbscript|data):/.test(url.replace(/[\u0000-\u0020]/g, "").toLowerCase());

async function parse(html: string) {
  const elements: { tag: string; attributes: [string, string][] }[] = [];
  await new HTMLRewriter()
    .on("*", { element: (e) => void elements.push({ tag: e.tagName, attributes: [...e.attributes] as [string, string][] }) })
    .transform(new Response(html, { headers: { "content-type": "text/html" } }))
    .text();
  return elements;
}

describe("URL-valued traits in templates", () => {
  it("render to the template's own elements and attributes, with no URL a browser would run", async () => {
    const shapes = new Map<string, string>();
    for (const template of TEMPLATES) {
      expect(parseExperience({ name: "T", slot: "s", variants: [{ id: "a", weight: 1, content: { html: template } }] }).ok).toBe(true);
      shapes.set(template, JSON.stringify((await parse(fillHtml(template, { traits: { u: "https://ok.example/" } }))).map((e) => [e.tag, e.attributes.map(([n]) => n)])));
    }
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...TEMPLATES), urlTrait, async (template, u) => {
        const html = fillHtml(template, { traits: { u } });
        const elements = await parse(html);
        expect(JSON.stringify(elements.map((e) => [e.tag, e.attributes.map(([n]) => n)])), html).toBe(shapes.get(template));
        for (const { attributes } of elements) {
          for (const [name, value] of attributes) {
            const urls = name === "srcset" ? decodeAttribute(value).split(",").map((c) => c.trim().split(/\s+/)[0] ?? "") : [decodeAttribute(value)];
            if (["href", "src", "srcset", "action", "formaction", "poster"].includes(name)) for (const url of urls) expect(runs(url), `${name}=${JSON.stringify(value)} in ${html}`).toBe(false);
          }
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
  });

  it("a dangerous URL trait keeps the link but leaves its href inert", async () => {
    await fc.assert(
      fc.asyncProperty(dangerousUrl, async (u) => {
        const [link] = await parse(fillHtml('<a href="{{trait.u}}">x</a>', { traits: { u } }));
        expect(link!.attributes).toEqual([["href", expect.any(String)]]);
        expect(runs(decodeAttribute(link!.attributes[0]![1]))).toBe(false);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});
