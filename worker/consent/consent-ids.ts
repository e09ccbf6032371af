/**
 * RudderStack's JS SDK sends its consent manager's answer with every event as
 * `context.consentManagement: {provider, allowedConsentIds, deniedConsentIds}` (README "Consent").
 * It is read like Segment's `categoryPreferences`: an explicit choice for the purposes its ids name.
 * An id names a purpose by its category name (the names `categoryPreferences` takes), by OneTrust's
 * standard category id, or, from iubenda, by iubenda's purpose number. Ids that name no purpose
 * (strictly necessary, social media, a site's own categories) are ignored.
 */
import { purposeOfCategory, type Purpose } from "./purposes";

/** OneTrust's standard category ids, the same in every OneTrust setup that keeps the defaults. */
export const ONETRUST_IDS: Record<string, Purpose> = { C0002: "analytics", C0003: "personalization", C0004: "advertising" };
/** iubenda's purpose ids (provider `iubenda`). */
export const IUBENDA_IDS: Record<string, Purpose> = { "3": "personalization", "4": "analytics", "5": "advertising" };
/** Ketch's and other CMPs' purpose codes for advertising, besides the category names. */
const MORE_NAMES: Record<string, Purpose> = { targeted_advertising: "advertising", behavioral_advertising: "advertising", "ad storage": "advertising" };

export interface ConsentManagement {
  provider?: string;
  /** A list of ids, or (OneTrust) a map of id to category name. */
  allowedConsentIds?: string[] | Record<string, string>;
  deniedConsentIds?: string[] | Record<string, string>;
}

/** The purpose one consent id (or its category name) stands for, if any. */
export function purposeOfConsentId(id: string, provider?: string): Purpose | undefined {
  const value = id.trim();
  if (provider?.toLowerCase() === "iubenda" && IUBENDA_IDS[value]) return IUBENDA_IDS[value];
  return ONETRUST_IDS[value.toUpperCase()] ?? purposeOfCategory(value) ?? MORE_NAMES[value.toLowerCase()];
}

const purposesOf = (ids: ConsentManagement["allowedConsentIds"], provider?: string): Set<Purpose> => {
  const out = new Set<Purpose>();
  if (!ids) return out;
  const entries = Array.isArray(ids) ? ids.map((id) => [id]) : Object.entries(ids);
  for (const names of entries) {
    const purpose = names.map((name) => purposeOfConsentId(name, provider)).find((p) => p !== undefined);
    if (purpose) out.add(purpose);
  }
  return out;
};

/**
 * The purposes a `consentManagement` answer grants or refuses. A purpose named by both lists is
 * refused (the cautious reading); purposes named by neither are left to the other signals.
 */
export function purposesFromConsentIds(consent: ConsentManagement): Partial<Record<Purpose, boolean>> {
  const allowed = purposesOf(consent.allowedConsentIds, consent.provider);
  const denied = purposesOf(consent.deniedConsentIds, consent.provider);
  const out: Partial<Record<Purpose, boolean>> = {};
  for (const purpose of allowed) out[purpose] = true;
  for (const purpose of denied) out[purpose] = false;
  return out;
}
