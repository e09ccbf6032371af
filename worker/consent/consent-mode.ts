/**
 * Google Consent Mode v2 as a consent signal: the page's `gtag('consent', 'default'|'update', {…})`
 * state (read by the tag from `dataLayer`, or sent by any SDK) in `context.consent.googleConsentMode`.
 *
 * How it maps onto Cohort's purposes (README "Consent"):
 * - `analytics_storage` → analytics;
 * - `ad_storage` and `ad_user_data` → advertising (granted when every one of them that is present is
 *   granted; either denied refuses it);
 * - `ad_personalization` decides no purpose: it is passed on to Google with each audience upload
 *   (`adPersonalization`), which is what it means there;
 * - nothing in Consent Mode speaks to personalisation.
 */
import type { Purpose } from "./purposes";

export const CONSENT_MODE_TYPES = ["ad_storage", "analytics_storage", "ad_user_data", "ad_personalization"] as const;
export type ConsentModeType = (typeof CONSENT_MODE_TYPES)[number];
export type GoogleConsentMode = Partial<Record<ConsentModeType, "granted" | "denied">>;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The purposes a Consent Mode state speaks to; undefined when it speaks to none. */
export function purposesFromConsentMode(mode: unknown): Partial<Record<Purpose, boolean>> | undefined {
  if (!isObject(mode)) return undefined;
  const state = (type: ConsentModeType) => (mode[type] === "granted" ? true : mode[type] === "denied" ? false : undefined);
  const out: Partial<Record<Purpose, boolean>> = {};
  const analytics = state("analytics_storage");
  if (analytics !== undefined) out.analytics = analytics;
  const ads = [state("ad_storage"), state("ad_user_data")].filter((v): v is boolean => v !== undefined);
  if (ads.length > 0) out.advertising = ads.every(Boolean);
  return Object.keys(out).length > 0 ? out : undefined;
}
