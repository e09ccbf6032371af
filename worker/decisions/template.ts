/**
 * Where each placeholder of an `html` template sits (issue 10, attack 6). A value is escaped for
 * HTML wherever it goes, which is enough in an element's text and inside a quoted attribute value
 * (it can close neither), but not everywhere:
 * - an unquoted attribute value or a bare placeholder in a tag (`<img src={{trait.x}}>`): the
 *   value could open an attribute (`x onerror=alert(1)`). Refused when the experience is saved;
 * - an event handler, `style` or `srcdoc` attribute, or the text of a `<script>`/`<style>`: the
 *   value would be script or CSS. Refused too;
 * - an attribute that takes a URL (`href`, `src`, `srcset`, …): allowed, and the filled value is
 *   checked as an `attributes` URL is (render.ts empties it when it is `javascript:`, `data:`…).
 *
 * A small scanner of the admin's own HTML, enough to know those places: tags, their attributes
 * (double-, single- or un-quoted), comments, and raw-text elements. It never rewrites the markup.
 */

export const PLACEHOLDER = /\{\{\s*(trait|context)\.([A-Za-z0-9_$.-]+)\s*(?:\|([^}]*))?\}\}/g;

/** Attributes whose value is a URL (or, for srcset, imagesrcset and ping, a list of them). */
export const URL_ATTRIBUTES = new Set([
  "action",
  "archive",
  "background",
  "cite",
  "classid",
  "codebase",
  "data",
  "dynsrc",
  "formaction",
  "href",
  "icon",
  "imagesrcset",
  "itemtype",
  "longdesc",
  "lowsrc",
  "manifest",
  "ping",
  "poster",
  "profile",
  "src",
  "srcset",
  "usemap",
  "xlink:href",
]);

/** Attributes whose value is script, CSS or a document. */
const SCRIPT_ATTRIBUTE = /^(on.*|style|srcdoc)$/i;
const RAW_TEXT = new Set(["script", "style"]);

/** A quoted attribute value in the template: where it is (without its quotes) and whose it is. */
export interface AttributeValue {
  name: string;
  start: number;
  end: number;
}

export interface TemplateScan {
  /** Quoted attribute values that hold a placeholder. */
  values: AttributeValue[];
  /** Placeholders that may not be where they are: their offset and why. */
  refused: { at: number; reason: string }[];
}

const hasPlaceholder = (text: string) => new RegExp(PLACEHOLDER.source).test(text);

/** The placeholders of `template` by where they sit (see the module's header). */
export function scanTemplate(template: string): TemplateScan {
  const scan: TemplateScan = { values: [], refused: [] };
  if (!template.includes("{{")) return scan;
  const refuse = (from: number, to: number, reason: string) => {
    for (const match of template.slice(from, to).matchAll(PLACEHOLDER)) scan.refused.push({ at: from + match.index, reason });
  };
  let i = 0;
  while (i < template.length) {
    const lt = template.indexOf("<", i);
    if (lt < 0) break;
    if (template.startsWith("<!--", lt)) {
      const close = template.indexOf("-->", lt + 4);
      i = close < 0 ? template.length : close + 3;
      continue;
    }
    const name = /^<\/?([A-Za-z][^\s/>]*)/.exec(template.slice(lt, lt + 200));
    if (!name) {
      // `<` that opens no tag is text; a placeholder right after it could make it one.
      if (/^<\s*\{\{/.test(template.slice(lt))) refuse(lt, lt + template.slice(lt).indexOf("}}") + 2, "a placeholder cannot open an element");
      i = lt + 1;
      continue;
    }
    const closing = template[lt + 1] === "/";
    const tag = name[1]!.toLowerCase();
    if (name[0].includes("{{")) refuse(lt, template.indexOf("}}", lt) + 2, "a placeholder cannot name an element");
    let j = lt + name[0].length;
    // Attributes, until the tag's `>`.
    for (;;) {
      while (j < template.length && /[\s/]/.test(template[j]!)) j++;
      if (j >= template.length || template[j] === ">") break;
      const attr = /^[^\s/>=]+/.exec(template.slice(j))?.[0] ?? template[j]!;
      const attrStart = j;
      j += attr.length;
      if (attr.includes("{{")) {
        const end = template.indexOf("}}", attrStart);
        refuse(attrStart, end < 0 ? template.length : end + 2, "a placeholder cannot open an attribute: put it inside a quoted value, name=\"{{…}}\"");
        if (end >= 0 && end + 2 > j) j = end + 2;
        continue;
      }
      let k = j;
      while (k < template.length && /\s/.test(template[k]!)) k++;
      if (template[k] !== "=") continue;
      k++;
      while (k < template.length && /\s/.test(template[k]!)) k++;
      const quote = template[k];
      if (quote === '"' || quote === "'") {
        const end = template.indexOf(quote, k + 1);
        const valueEnd = end < 0 ? template.length : end;
        const value = template.slice(k + 1, valueEnd);
        if (hasPlaceholder(value)) {
          if (SCRIPT_ATTRIBUTE.test(attr)) refuse(k + 1, valueEnd, `a placeholder cannot fill the ${attr.toLowerCase()} attribute (script, CSS or a document)`);
          else scan.values.push({ name: attr.toLowerCase(), start: k + 1, end: valueEnd });
        }
        j = end < 0 ? template.length : end + 1;
      } else {
        // Unquoted: up to whitespace or `>`; a placeholder's own spaces count as its part.
        let end = k;
        while (end < template.length && !/[\s>]/.test(template[end]!)) {
          if (template.startsWith("{{", end)) {
            const close = template.indexOf("}}", end);
            end = close < 0 ? template.length : close + 2;
          } else end++;
        }
        refuse(k, end, `a placeholder in ${attr.toLowerCase()}= needs quotes around the value: ${attr.toLowerCase()}="{{…}}"`);
        j = end;
      }
    }
    i = j + 1;
    if (!closing && RAW_TEXT.has(tag)) {
      const close = template.toLowerCase().indexOf(`</${tag}`, i);
      const end = close < 0 ? template.length : close;
      refuse(i, end, `a placeholder cannot be part of a <${tag}>`);
      i = end;
    }
  }
  return scan;
}
