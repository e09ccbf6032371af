/**
 * Consent applied to an event: the resolved state is attached (every stored event says under
 * which consent it was kept), and advertising click ids are removed unless advertising is granted.
 */
import type { CollectedEvent } from "../collect/normalise";
import type { ConsentState } from "./purposes";

export const CLICK_ID_PARAMS = ["gclid", "gbraid", "wbraid", "fbclid", "msclkid", "ttclid", "li_fat_id", "twclid", "dclid", "yclid"];

/** A URL without advertising click ids (unchanged when it has none or is not a URL). */
export function stripClickIds(url: unknown): unknown {
  if (typeof url !== "string" || !CLICK_ID_PARAMS.some((p) => url.includes(`${p}=`))) return url;
  try {
    const parsed = new URL(url, "https://placeholder.invalid");
    for (const param of CLICK_ID_PARAMS) parsed.searchParams.delete(param);
    return url.startsWith("http") ? parsed.href : `${parsed.search}`;
  } catch {
    return url;
  }
}

export function withConsent(event: CollectedEvent, consent: ConsentState): CollectedEvent {
  const governed = { ...event, consent: { purposes: consent.purposes, sources: consent.sources, policyVersion: consent.policyVersion } };
  if (consent.purposes.advertising) return governed;
  const context = { ...event.context };
  if (context.campaign) {
    context.campaign = Object.fromEntries(Object.entries(context.campaign).filter(([k]) => !CLICK_ID_PARAMS.includes(k)));
  }
  if (context.page) {
    context.page = { ...context.page, url: stripClickIds(context.page.url) as string | undefined, search: stripClickIds(context.page.search) as string | undefined };
  }
  return { ...governed, context };
}

/** Removes click ids from a stored campaign touch (when advertising consent is withdrawn). */
export function stripTouch<T extends { landingUrl?: string }>(touch: T): T {
  return { ...touch, landingUrl: stripClickIds(touch.landingUrl) as string | undefined };
}
