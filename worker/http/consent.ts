/**
 * `POST /v1/consent`: a visitor's choice (or their CMP's new TC/GPP string), from the tag.
 */
import { getCookie } from "hono/cookie";
import { z } from "zod";
import { sitePolicy } from "../flows/ingest";
import { MAX_EVENT_BYTES } from "../collect/parse";
import { mayProfile, PURPOSES } from "../consent/purposes";
import { combineExplicit, decodeConsentCookie, decodeSignals, resolveConsent } from "../consent/resolve";
import type { AppContext } from "../env";
import { COOKIE_NAME, newVisitorId, verifyVisitorCookie } from "../identity/cookie";
import { profileKey } from "../identity/keys";
import { enqueue } from "../pipeline/messages";
import { ledgerMessage } from "../profile/owed";
import { applyToProfile } from "../profile/profiles";
import { liveDefinitions } from "../store/definitions";
import { jsonBody } from "./body";
import { ApiError } from "./errors";
import { authenticate, basicAuthKey, requestConsent, setIdentityCookies } from "./request";
import type { WireConsentResponse } from "../collect/wire";

export const consentSchema = z.object({
  writeKey: z.string().max(255).optional(),
  purposes: z.partialRecord(z.enum(PURPOSES), z.boolean()).optional(),
  tcString: z.string().max(8192).optional(),
  gppString: z.string().max(8192).optional(),
  gpc: z.boolean().optional(),
});

/**
 * `POST /v1/consent`: the visitor's choice (or their CMP's new TC/GPP string). Answers with the
 * resolved purposes, sets or clears the visitor cookie accordingly, remembers an explicit choice,
 * and appends the change to the consent ledger. Withdrawing both analytics and personalisation
 * erases the profile's data at once.
 */
export async function consentRoute(c: AppContext) {
  const body = await jsonBody(c.req.raw, consentSchema, MAX_EVENT_BYTES);
  const { site, source } = await authenticate(c, basicAuthKey(c) ?? body.writeKey);
  if (source !== "browser") throw new ApiError(400, "browser_only", "Consent is a browser's choice: call /v1/consent with the write key from the page.");
  const base = requestConsent(c);
  const now = Date.now();
  const signals = decodeSignals({
    explicit: combineExplicit(decodeConsentCookie(base.consentCookie), body.purposes ? { purposes: body.purposes, at: now } : undefined),
    tcString: body.tcString,
    gppString: body.gppString,
    gpc: body.gpc === true || base.secGpc?.trim() === "1",
    country: base.country,
  });
  const policy = sitePolicy(site);
  let visitorId = await verifyVisitorCookie(getCookie(c, COOKIE_NAME), c.env.COOKIE_SECRET, site.workspaceId);
  let consent = resolveConsent(policy, signals, now);
  if (!visitorId && mayProfile(consent)) visitorId = newVisitorId();
  let changed = Boolean(body.purposes);
  if (visitorId) {
    const result = await applyToProfile(c.env.PROFILES, {
      key: profileKey(site.workspaceId, { anonymousId: visitorId })!,
      events: [],
      signals,
      policy,
      retentionDays: site.retentionDays,
      definitions: await liveDefinitions(c.env.DB, site.workspaceId),
      siteId: site.id,
      // The profile writes the ledger entry (and what else the change owes) with the change itself.
      recordChoice: changed,
    });
    consent = result.consent;
    if (result.erased) visitorId = undefined;
    else changed = false;
  }
  // A visitor without a profile (nothing may be kept) still has their choice in the ledger.
  if (changed) await enqueue(c.env.EVENTS, [ledgerMessage(site, null, signals, consent)]);
  const keep = mayProfile(consent) && visitorId !== undefined;
  await setIdentityCookies(c, site, {
    visitorId: keep ? visitorId : undefined,
    clearCookie: !keep && Boolean(getCookie(c, COOKIE_NAME)),
    signals,
  });
  c.header("Cache-Control", "no-store");
  return c.json({ consent: { purposes: consent.purposes, sources: consent.sources, policyVersion: consent.policyVersion } } satisfies WireConsentResponse);
}
