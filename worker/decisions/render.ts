/**
 * Fills a variant's placeholders with the visitor's values: `{{trait.<name>}}` (a profile trait,
 * dotted for nested ones) and `{{context.<path>}}` (the request context as segment rules see it:
 * `geo.country`, `utm.campaign`, `page.path`, …), with an optional fallback after a bar:
 * `{{ trait.firstName | there }}`. A missing value, or one that is not a string, number or boolean,
 * becomes the fallback (default: nothing).
 *
 * Escaping follows where the content goes:
 * - `html`: every filled value (and fallback) is HTML-escaped; the template around it is the
 *   admin's own HTML and is kept as is;
 * - `text` and `attributes`: values are filled raw, because they are set as text or as an
 *   attribute value (HTMLRewriter and the tag's `textContent`/`setAttribute` escape them); an
 *   attribute that becomes unsafe once filled (`href="{{trait.site}}"` with a `javascript:` trait)
 *   is dropped;
 * - `json`: returned unchanged (custom rendering is the page's business).
 */
import type { Content } from "./schema";
import { unsafeAttribute } from "./schema";

export interface RenderValues {
  traits?: Record<string, unknown>;
  context?: Record<string, unknown>;
}

const PLACEHOLDER = /\{\{\s*(trait|context)\.([A-Za-z0-9_$.-]+)\s*(?:\|([^}]*))?\}\}/g;

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

/**
 * Fills the placeholders of one template.
 * @example fill("Hi {{trait.firstName|there}}!", { traits: { firstName: "<Ada>" } }, escapeHtml) // → "Hi &lt;Ada&gt;!"
 */
export function fill(template: string, values: RenderValues, escape: (text: string) => string = (text) => text): string {
  if (!template.includes("{{")) return template;
  return template.replace(PLACEHOLDER, (_, source: string, path: string, fallback: string | undefined) => {
    const value = lookup(source === "trait" ? values.traits : values.context, path);
    const text = typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? String(value) : (fallback?.trim() ?? "");
    return escape(text);
  });
}

/** A variant's content for one visitor. */
export function render(content: Content, values: RenderValues): Content {
  if ("text" in content) return { text: fill(content.text, values) };
  if ("html" in content) return { html: fill(content.html, values, escapeHtml) };
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
