/**
 * Consent in the tag: the visitor's explicit choice (`cohort('consent', {...})`) and the signals
 * the page already carries — `navigator.globalPrivacyControl`, an IAB TCF v2.2 CMP (`__tcfapi`), an
 * IAB GPP CMP (`__gpp`) and Google Consent Mode (`gtag('consent', …)` on `dataLayer`). The tag resolves nothing itself: it reports choices and signals to the
 * Worker (`POST /v1/consent`, and `context.consent` on every event), which decides and sets or
 * clears the cookie on its answer.
 */
import type { WireConsentSignals, WirePurpose } from "../../worker/collect/wire";
import { consentRequest, log } from "./transport";

type Purposes = Partial<Record<WirePurpose, boolean>>;
type Callback = (data: any, success?: boolean) => void;

let current: WireConsentSignals = {};
/** The explicit choices made on this page so far, merged (a choice may name only some purposes). */
let chosen: Purposes = {};

/**
 * Google Consent Mode v2: `gtag('consent', 'default' | 'update', {…})` pushes its `arguments` onto
 * `dataLayer`; the last value of each of the four types wins. Undefined until the page's CMP has
 * sent an `update`: a `default` alone is the page's placeholder (often "denied" until the CMP
 * restores the visitor's stored choice), not the visitor's answer.
 */
function consentMode() {
  let mode: any;
  let updated;
  try {
    for (const command of (window as any).dataLayer)
      if (command && command[0] == "consent") {
        if (command[1] == "update") updated = 1;
        for (const type in command[2])
          if (/^(ad_(storage|user_data|personalization)|analytics_storage)$/.test(type) && /^(granted|denied)$/.test(command[2][type])) (mode = mode || {})[type] = command[2][type];
      }
  } catch {
    // No dataLayer, or one that is not a list of commands: no Consent Mode.
  }
  return (updated && mode) as WireConsentSignals["googleConsentMode"];
}

/** The signals to put on an event's `context.consent` (read now); undefined when the page has none. */
export const signals = (): WireConsentSignals | undefined => {
  const mode = consentMode();
  const all = mode ? { ...current, googleConsentMode: mode } : current;
  return Object.keys(all).length ? all : undefined;
};

/**
 * A CMP reported a TC or GPP string: remember it for later events and, when it is new, tell the
 * Worker at once (a first-party cookie may now be allowed, or no longer).
 */
function update(key: "tcString" | "gppString", value: unknown) {
  if (typeof value == "string" && value && value != current[key]) {
    current = { ...current, [key]: value };
    consentRequest(current);
  }
}

/** Calls a CMP's API; a CMP that throws or misbehaves is a CMP we ignore. */
function call(api: unknown, ...args: unknown[]) {
  try {
    return typeof api == "function" ? api(...args) : undefined;
  } catch (error) {
    log("CMP failed: " + error);
  }
}

/** Wraps a CMP callback so that whatever it receives can never throw back into the CMP. */
const safe =
  (fn: Callback): Callback =>
  (data, success) => {
    try {
      if (data && success !== false) fn(data);
    } catch {
      // An odd payload from a CMP stub says nothing.
    }
  };

/** GPP 1.1 event data carries `pingData`; a ping answers with the ping data itself. */
const gpp = safe((data) => {
  const ping = data.pingData || data;
  if (ping.signalStatus != "not ready") update("gppString", ping.gppString);
});

/**
 * Reads the page's signals once, at start, and subscribes to the CMPs' changes.
 * @example watch() // with a TCF CMP: later events carry context.consent.tcString
 */
export function watch() {
  const w = window as any;
  if (navigator.globalPrivacyControl === true) current = { gpc: true };
  call(
    w.__tcfapi,
    "addEventListener",
    2,
    safe((data) => {
      if (data.eventStatus == "tcloaded" || data.eventStatus == "useractioncomplete") update("tcString", data.tcString);
    }),
  );
  call(w.__gpp, "addEventListener", gpp);
  // GPP 1.0 answered a ping synchronously; 1.1 calls back.
  const ping = call(w.__gpp, "ping", gpp);
  if (ping) gpp(ping);
}

/**
 * `cohort('consent', choice)`: the visitor's explicit choice. Sends what is queued first when the
 * choice still allows analytics or personalisation; when it refuses both, the events not yet sent
 * are dropped (they were collected under the consent now withdrawn). Returns a reason when the
 * choice is not valid.
 * @example cohort('consent', { analytics: true, personalization: true, advertising: false })
 */
export function consent(choice: unknown): string | void {
  const invalid = "consent needs {analytics, personalization, advertising} as booleans";
  if (!choice || typeof choice != "object") return invalid;
  const purposes: Purposes = {};
  for (const purpose of ["analytics", "personalization", "advertising"] as const) {
    const value = (choice as Purposes)[purpose];
    if (value != null && typeof value != "boolean") return invalid;
    if (value != null) purposes[purpose] = value;
  }
  if (!Object.keys(purposes).length) return invalid;
  chosen = { ...chosen, ...purposes };
  consentRequest({ ...signals(), purposes }, chosen.analytics === false && chosen.personalization === false);
}
