/**
 * Slots: `[data-cohort-slot="name"]` elements the Worker's decisions fill (DESIGN.md §3 "The tag").
 *
 * On start the tag asks for the slots on the page (once the DOM is parsed) with its first request,
 * then fills each from its decision: `text` → textContent, `html` → innerHTML (an admin-authored
 * template whose visitor values the Worker escaped), `attributes` → setAttribute (never `on*`),
 * `json` → nothing (that is for `cohort('decide', …)`). Slots the edge already filled
 * (`data-cohort-done`) are left alone. The anti-flicker class `cohort-hide`, on slots or on
 * `<html>`, goes on decision or after 800 ms, whichever comes first.
 */
import type { WireDecisions } from "../../worker/collect/wire";
import { ask } from "./transport";

const HIDE = "cohort-hide";
const DONE = "data-cohort-done";
const all = () => document.querySelectorAll<HTMLElement>("[data-cohort-slot]");

function unhide() {
  document.documentElement.classList.remove(HIDE);
  all().forEach((el) => el.classList.remove(HIDE));
}

/** Fills the page's slots from decisions, then shows them. */
export function fill(decisions: WireDecisions) {
  all().forEach((el) => {
    try {
      const c = decisions[el.dataset.cohortSlot!]?.content as { text?: string; html?: string; attributes?: Record<string, string> } | undefined;
      if (c && !el.hasAttribute(DONE)) {
        if (c.text != null) el.textContent = c.text;
        if (c.html != null) el.innerHTML = c.html;
        for (const name in c.attributes)
          try {
            /^on/i.test(name) || el.setAttribute(name, c.attributes[name]!);
          } catch {
            // An invalid attribute name: skip it, set the others.
          }
      }
    } catch {
      // One odd slot (innerHTML refused in an XML document) must not keep the others from filling.
    }
  });
  unhide();
}

/** Asks for the page's slots (not those filled at the edge) when the DOM is ready. */
export function slots() {
  const go = () => {
    const names = [...new Set(Array.from(all(), (el) => (el.hasAttribute(DONE) ? "" : el.dataset.cohortSlot)))].filter(Boolean) as string[];
    setTimeout(unhide, 800);
    names[0] ? ask(names, fill) : unhide();
  };
  document.readyState == "loading" ? document.addEventListener("DOMContentLoaded", go) : go();
}

/**
 * `cohort('decide', [slots], callback)`: decisions for custom rendering; the callback gets
 * `{<slot>: {experience, variant, content}}` (slots without a decision are absent; on failure, `{}`).
 * @example cohort('decide', ['hero'], (d) => d.hero && render(d.hero.content))
 */
export function decide(names: unknown, done: unknown) {
  if (!Array.isArray(names) || typeof done != "function") return "decide needs [slots] and a callback";
  ask(names.map(String), done as (decisions: WireDecisions) => void);
}
