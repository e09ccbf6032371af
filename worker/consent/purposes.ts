/**
 * Consent purposes and the resolved consent state that travels with every event and sits on every
 * profile (DESIGN.md §3 "Consent").
 *
 * What needs which purpose:
 * - a profile, the cookie, identifiers and events stored with them: `analytics` or `personalization`
 *   (without either, Cohort is cookieless: anonymous counts per site, event and day only);
 * - profile-based decisions and segment memberships: `personalization`;
 * - advertising click ids (gclid, fbclid, …) and advertising destinations: `advertising`.
 */

export const PURPOSES = ["analytics", "personalization", "advertising"] as const;
export type Purpose = (typeof PURPOSES)[number];

/** Where a purpose's answer came from, strongest first. `site`: the site does not use the purpose. */
export type ConsentSource = "explicit" | "tcf" | "gpp" | "gpc" | "consentMode" | "region" | "default" | "site";

export interface ConsentState {
  purposes: Record<Purpose | "necessary", boolean>;
  sources: Record<Purpose, ConsentSource>;
  /** When the explicit choice behind any `explicit` source was made (ms), else when resolved. */
  at: number;
  policyVersion: string;
}

/** Site settings that consent resolution depends on. */
export interface ConsentPolicy {
  /** Purposes this site uses; others are never granted. */
  purposes: Purpose[];
  /** Answers outside opt-in regions when no signal says otherwise (a missing purpose: granted). */
  defaults: Partial<Record<Purpose, boolean>>;
  policyVersion: string;
}

/** Whether Cohort may keep an identifying profile and cookie. */
export const mayProfile = (consent: Pick<ConsentState, "purposes">) => consent.purposes.analytics || consent.purposes.personalization;

/**
 * Segment's `categoryPreferences` names, matched case-insensitively to purposes. CMPs name their
 * categories differently; these are the common names.
 */
const CATEGORY_NAMES: Record<string, Purpose> = {
  analytics: "analytics",
  statistics: "analytics",
  performance: "analytics",
  measurement: "analytics",
  personalization: "personalization",
  personalisation: "personalization",
  functional: "personalization",
  preferences: "personalization",
  advertising: "advertising",
  marketing: "advertising",
  targeting: "advertising",
  ads: "advertising",
};

/** The purpose a consent category name stands for (case-insensitive), if any. */
export const purposeOfCategory = (name: string): Purpose | undefined => CATEGORY_NAMES[name.trim().toLowerCase()];

/** Maps `{"Analytics": true, "Marketing": false}` to purposes; unknown categories are ignored. */
export function purposesFromCategories(categories: Record<string, unknown>): Partial<Record<Purpose, boolean>> {
  const out: Partial<Record<Purpose, boolean>> = {};
  for (const [name, value] of Object.entries(categories)) {
    const purpose = purposeOfCategory(name);
    if (purpose && typeof value === "boolean") out[purpose] = value;
  }
  return out;
}
