/**
 * The Cohort browser tag: the entry point esbuild bundles into `public/t.js`.
 *
 * Installed as
 *   <script>window.cohort=window.cohort||function(){(cohort.q=cohort.q||[]).push(arguments)}</script>
 *   <script async src="https://<cohort-host>/t.js" data-key="<writeKey>"></script>
 * it replaces the stub with the real `cohort()` function, sends the page view, and replays the
 * calls the stub queued, in order. Nothing here may throw into the host page.
 */
import { consent, watch } from "./consent";
import { build } from "./events";
import { decide, slots } from "./slots";
import { configure, drain, enqueue, log } from "./transport";

interface Cohort {
  (...args: unknown[]): void;
  q?: ArrayLike<unknown>[];
  /** Set once the real tag has loaded, so a second copy of the script does nothing. */
  v?: string;
}

const w = window as unknown as { cohort?: Cohort };

/**
 * The public API, on `window.cohort`.
 * @example cohort('track', 'Product Added', { sku: 'sku-1', price: 42 })
 * @example cohort('identify', 'user-42', { email: 'ada@example.com' }, { userHash: '<from your server>' })
 * @example cohort('consent', { analytics: true, personalization: true, advertising: false })
 * @example cohort('decide', ['hero'], (decisions) => console.log(decisions.hero?.content))
 */
function cohort(...call: unknown[]) {
  try {
    const event = call[0] == "consent" ? consent(call[1]) : call[0] == "decide" ? decide(call[1], call[2]) : build(call[0], call.slice(1));
    if (typeof event == "string") log("ignored: " + event);
    else if (event) enqueue(event);
  } catch (error) {
    log("ignored: " + error);
  }
}

function start() {
  if (w.cohort?.v) return log("ignored: the tag is loaded twice");
  const script = (document.currentScript ||
    document.querySelector("script[data-key][src*='/t.']")) as HTMLScriptElement | null;
  const key = script?.dataset.key;
  if (!script || !key) return log("ignored: no data-key on the script tag");
  configure(new URL(script.src).origin, key);

  const queued = w.cohort?.q || [];
  const api: Cohort = cohort;
  api.v = __VERSION__;
  w.cohort = api;

  // Signals first: a CMP that already has an answer calls back at once, and its consent request
  // then leaves before the page view, which can land on the profile the answer allows.
  watch();
  // Slots before the page view: their ask makes the first batch leave at once, with `?decide=`.
  slots();
  if (script.dataset.autoPage != "false") cohort("page");
  for (const call of Array.from(queued)) cohort(...Array.from(call));

  const leave = () => {
    try {
      drain();
    } catch {
      // Page is going away; nothing useful left to do.
    }
  };
  addEventListener("pagehide", leave);
  document.addEventListener("visibilitychange", () => document.visibilityState == "hidden" && leave());
}

try {
  start();
} catch (error) {
  log("not started: " + error);
}
