/**
 * Fills a variant's placeholders with the visitor's values: `{{trait.<name>}}` (a profile trait,
 * dotted for nested ones) and `{{context.<path>}}` (the request context as segment rules see it:
 * `geo.country`, `utm.campaign`, `page.path`, …), with an optional fallback after a bar:
 * `{{ trait.firstName | there }}`. A missing value, or one that is not a string, number or boolean,
 * becomes the fallback (default: nothing).
 *
 * Escaping follows where the content goes:
 * - `html`: every filled value (and fallback) is HTML-escaped; the template around it is the
 *   admin's own HTML and is kept as is; a value in a URL attribute (`href`, `src`, `srcset`…)
 *   that is a `javascript:`, `vbscript:` or `data:` URL leaves the attribute empty (template.ts
 *   says where each placeholder sits; those that could open an attribute or an element are refused
 *   when the experience is saved, and render as nothing should one be stored already);
 * - `text` and `attributes`: values are filled raw, because they are set as text or as an
 *   attribute value (HTMLRewriter and the tag's `textContent`/`setAttribute` escape them); an
 *   attribute that becomes unsafe once filled (`href="{{trait.site}}"` with a `javascript:` trait)
 *   is dropped;
 * - `json`: returned unchanged (custom rendering is the page's business).
 */
import type { Content } from "./schema";
import { dangerousUrlValue, unsafeAttribute } from "./schema";
import { PLACEHOLDER, scanTemplate, URL_ATTRIBUTES } from "./template";

export interface RenderValues {
  traits?: Record<string, unknown>;
  context?: Record<string, unknown>;
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** HTML-escapes text for an element's content or a quoted attribute value. */
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

/** A dotted path of own properties (no prototype reads: `constructor`, `__proto__` find nothing). */
function lookup(root: Record<string, unknown> | undefined, path: string): unknown {
  let value: unknown = root;
  for (const key of path.split(".")) {
    if (typeof value !== "object" || value === null || !Object.prototype.hasOwnProperty.call(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The text one placeholder becomes, before escaping. */
function valueOf(values: RenderValues, source: string, path: string, fallback: string | undefined): string {
  const value = lookup(source === "trait" ? values.traits : values.context, path);
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? String(value) : (fallback?.trim() ?? "");
}

/**
 * Fills the placeholders of one template.
 * @example fill("Hi {{trait.firstName|there}}!", { traits: { firstName: "<Ada>" } }, escapeHtml) // → "Hi &lt;Ada&gt;!"
 */
export function fill(template: string, values: RenderValues, escape: (text: string) => string = (text) => text): string {
  if (!template.includes("{{")) return template;
  return template.replace(PLACEHOLDER, (_, source: string, path: string, fallback: string | undefined) => escape(valueOf(values, source, path, fallback)));
}

/**
 * Fills an `html` template: every value HTML-escaped; a quoted URL attribute whose filled value is
 * a dangerous URL is emptied (the link or image is inert); a placeholder where no value may go
 * (refused at save, so only in experiences saved before that check) becomes nothing.
 * @example fillHtml('<a href="{{trait.site}}">me</a>', { traits: { site: "javascript:alert(1)" } }) // → '<a href="">me</a>'
 */
export function fillHtml(template: string, values: RenderValues): string {
  if (!template.includes("{{")) return template;
  const scan = scanTemplate(template);
  const refused = new Set(scan.refused.map((r) => r.at));
  const fillPart = (from: number, to: number) =>
    template
      .slice(from, to)
      .replace(PLACEHOLDER, (_, source: string, path: string, fallback: string | undefined, offset: number) =>
        refused.has(from + offset) ? "" : escapeHtml(valueOf(values, source, path, fallback)),
      );
  let out = "";
  let at = 0;
  for (const attribute of [...scan.values].sort((a, b) => a.start - b.start)) {
    out += fillPart(at, attribute.start);
    const value = fillPart(attribute.start, attribute.end);
    out += URL_ATTRIBUTES.has(attribute.name) && dangerousUrlValue(attribute.name, value) ? "" : value;
    at = attribute.end;
  }
  return out + fillPart(at, template.length);
}

/** A variant's content for one visitor. */
export function render(content: Content, values: RenderValues): Content {
  if ("text" in content) return { text: fill(content.text, values) };
  if ("html" in content) return { html: fillHtml(content.html, values) };
  if ("attributes" in content) {
    const attributes: Record<string, string> = {};
    for (const [name, template] of Object.entries(content.attributes)) {
      const value = fill(template, values);
      if (!unsafeAttribute(name, value)) attributes[name] = value;
    }
    return { attributes };
  }
  return content;
}
