/**
 * The consent signals of one collection request: the remembered choice (`cohort_consent` cookie),
 * the `Sec-GPC` header, the country, and what the events themselves carry in `context.consent`
 * (Segment's `categoryPreferences`, a TC or GPP string, GPC and Google Consent Mode from the tag),
 * and RudderStack's `context.consentManagement` (its consent ids, read like `categoryPreferences`).
 */
import type { CollectedEvent } from "../collect/normalise";
import { purposesFromConsentIds, type ConsentManagement } from "./consent-ids";
import { purposesFromConsentMode } from "./consent-mode";
import { purposesFromCategories, type Purpose } from "./purposes";
import { combineExplicit, decodeConsentCookie, decodeSignals, type ConsentSignals, type ExplicitChoice } from "./resolve";

export interface RequestConsent {
  consentCookie?: string;
  /** The `Sec-GPC` request header. */
  secGpc?: string | null;
  /** `request.cf.country` for browsers. */
  country?: string;
  source: "browser" | "server";
}

export function requestSignals(events: CollectedEvent[], request: RequestConsent): ConsentSignals {
  const explicit: (ExplicitChoice | undefined)[] = [decodeConsentCookie(request.consentCookie)];
  let tcString: string | undefined;
  let gppString: string | undefined;
  let consentMode: Partial<Record<Purpose, boolean>> | undefined;
  let gpc = request.secGpc?.trim() === "1";
  let country = request.source === "browser" ? request.country : undefined;
  for (const event of [...events].sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp))) {
    const consent = (event.context.consent ?? {}) as Record<string, unknown>;
    if (consent.categoryPreferences && typeof consent.categoryPreferences === "object") {
      explicit.push({ purposes: purposesFromCategories(consent.categoryPreferences as Record<string, unknown>), at: Date.parse(event.timestamp) });
    }
    const managed = event.context.consentManagement as ConsentManagement | undefined;
    if (managed && typeof managed === "object") {
      const purposes = purposesFromConsentIds(managed);
      if (Object.keys(purposes).length > 0) explicit.push({ purposes, at: Date.parse(event.timestamp) });
    }
    if (typeof consent.tcString === "string" && consent.tcString) tcString = consent.tcString;
    if (typeof consent.gppString === "string" && consent.gppString) gppString = consent.gppString;
    if (consent.gpc === true) gpc = true;
    consentMode = purposesFromConsentMode(consent.googleConsentMode) ?? consentMode;
    const location = event.context.location as { country?: unknown } | undefined;
    if (request.source === "server" && typeof location?.country === "string") country = location.country;
  }
  // Only the newest TC and GPP strings count, decoded here once for the whole request.
  return decodeSignals({ explicit: combineExplicit(...explicit), tcString, gppString, gpc, consentMode, country, serverSource: request.source === "server" });
}

/** What a ledger entry records of the signals: enough to show why, nothing identifying. */
export function ledgerSignals(signals: ConsentSignals): Record<string, unknown> {
  return Object.fromEntries(Object.entries(signals).filter(([, v]) => v !== undefined && v !== false));
}
