/**
 * Consent at activation (DESIGN.md §3 "Consent", "Activation"): an event goes to a destination only
 * when its consent grants every purpose the destination needs; advertising destinations also
 * respect GPC and Google Consent Mode's `ad_user_data` when the event carries them. Anything
 * without a consent state is not sent (fail closed).
 */
import type { Purpose } from "../consent/purposes";

/** The consent an archived event carries (attached by consent/enforce.ts) or a profile holds. */
export interface ConsentView {
  purposes?: Partial<Record<Purpose | "necessary", boolean>>;
  sources?: Partial<Record<Purpose, string>>;
}

/** Google Consent Mode v2 values, when the page's CMP passed them (`context.consent.googleConsentMode`). */
export type ConsentMode = Partial<Record<"ad_storage" | "ad_user_data" | "ad_personalization" | "analytics_storage", "granted" | "denied">>;

export function consentModeOf(context: unknown): ConsentMode | undefined {
  const mode = (context as { consent?: { googleConsentMode?: unknown } } | undefined)?.consent?.googleConsentMode;
  if (!mode || typeof mode !== "object") return undefined;
  const out: ConsentMode = {};
  for (const name of ["ad_storage", "ad_user_data", "ad_personalization", "analytics_storage"] as const) {
    const value = (mode as Record<string, unknown>)[name];
    if (value === "granted" || value === "denied") out[name] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

const gpcOf = (context: unknown) => (context as { consent?: { gpc?: unknown } } | undefined)?.consent?.gpc === true;

export type ConsentVerdict = { ok: true } | { ok: false; reason: string };

export function consentAllows(purposes: readonly Purpose[], consent: ConsentView | null | undefined, context?: unknown): ConsentVerdict {
  if (!consent?.purposes) return { ok: false, reason: "no consent state" };
  for (const purpose of purposes) if (consent.purposes[purpose] !== true) return { ok: false, reason: `no ${purpose} consent` };
  if (purposes.includes("advertising")) {
    if (consent.sources?.advertising === "gpc" || gpcOf(context)) return { ok: false, reason: "Global Privacy Control" };
    if (consentModeOf(context)?.ad_user_data === "denied") return { ok: false, reason: "Consent Mode ad_user_data denied" };
  }
  return { ok: true };
}
