// Google Consent Mode v2 as a consent signal: how `context.consent.googleConsentMode` maps onto
// Cohort's purposes and ranks against the other signals (pure), and what a request carrying it
// does: validated, stored with the event, resolved on the profile.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { purposesFromConsentMode } from "../../worker/consent/consent-mode";
import type { ConsentPolicy } from "../../worker/consent/purposes";
import { resolveConsent, type ConsentSignals } from "../../worker/consent/resolve";
import { requestSignals } from "../../worker/consent/request";
import type { CollectedEvent } from "../../worker/collect/normalise";
import { tcString } from "./consent-strings";
import { browserPost, drainQueue, lookup, type TestSite, createSite } from "./helpers";

const open: ConsentPolicy = { purposes: ["analytics", "personalization", "advertising"], defaults: {}, policyVersion: "1" };
const NOW = Date.parse("2026-06-01T00:00:00Z");
const G = "granted";
const D = "denied";

describe("the mapping onto purposes", () => {
  it.each([
    ["nothing", {}, undefined],
    ["not an object", "granted", undefined],
    ["analytics_storage granted", { analytics_storage: G }, { analytics: true }],
    ["analytics_storage denied", { analytics_storage: D }, { analytics: false }],
    ["ad_storage and ad_user_data granted", { ad_storage: G, ad_user_data: G }, { advertising: true }],
    ["ad_user_data denied refuses advertising", { ad_storage: G, ad_user_data: D }, { advertising: false }],
    ["ad_storage denied refuses advertising", { ad_storage: D, ad_user_data: G }, { advertising: false }],
    ["ad_personalization alone decides no purpose", { ad_personalization: D }, undefined],
    ["all four", { ad_storage: G, analytics_storage: G, ad_user_data: G, ad_personalization: D }, { analytics: true, advertising: true }],
    ["values other than granted/denied say nothing", { analytics_storage: "yes", ad_storage: 1 }, undefined],
  ])("%s", (_name, mode, expected) => {
    expect(purposesFromConsentMode(mode)).toEqual(expected);
  });
});

type Row = [string, ConsentSignals, string];
/** Expected as "a p d | sources", 1 granted, 0 refused. */
const order: Row[] = [
  ["Consent Mode in the EEA grants what it grants; personalisation stays opt-in", { country: "DE", consentMode: { analytics: true, advertising: false } }, "1 0 0 | consentMode region consentMode"],
  ["Consent Mode denial beats the US default", { country: "US", consentMode: { analytics: false } }, "0 1 1 | consentMode default default"],
  ["an explicit choice beats Consent Mode", { country: "DE", consentMode: { analytics: false }, explicit: { purposes: { analytics: true }, at: NOW } }, "1 0 0 | explicit region region"],
  ["TCF beats Consent Mode", { country: "DE", tcString: tcString([1, 8]), consentMode: { analytics: false, advertising: true } }, "1 0 0 | tcf tcf tcf"],
  ["GPC keeps advertising off whatever Consent Mode grants", { country: "US", gpc: true, consentMode: { advertising: true } }, "1 1 0 | default default gpc"],
];

describe("its rank among the signals", () => {
  it.each(order)("%s", (_name, signals, expected) => {
    const state = resolveConsent(open, signals, NOW);
    const [flags, sources] = expected.split(" | ");
    const [a, p, d] = flags!.split(" ").map((f) => f === "1");
    expect(state.purposes).toEqual({ necessary: true, analytics: a, personalization: p, advertising: d });
    expect(Object.values(state.sources).join(" ")).toBe(sources);
  });

  it("the newest event's Consent Mode state counts", () => {
    const at = (t: string, mode: unknown) => ({ type: "track", event: "E", messageId: t, timestamp: t, context: { consent: { googleConsentMode: mode } } }) as unknown as CollectedEvent;
    const signals = requestSignals([at("2026-06-01T00:00:02Z", { analytics_storage: G }), at("2026-06-01T00:00:01Z", { analytics_storage: D })], { source: "browser", country: "DE" });
    expect(signals.consentMode).toEqual({ analytics: true });
  });
});

describe("a browser event carrying Consent Mode", () => {
  let site: TestSite;
  beforeAll(async () => {
    site = await createSite({}, "ws_consent_mode");
  });
  const MODE = { ad_storage: D, analytics_storage: G, ad_user_data: D, ad_personalization: D };

  it("is stored with the four values, and the profile's consent comes from it (an EEA visitor)", async () => {
    const messageId = crypto.randomUUID();
    const res = await browserPost(site, "/v1/batch", { batch: [{ type: "page", messageId, context: { consent: { googleConsentMode: MODE } } }] }, {}, "DE");
    expect(res.status).toBe(200);
    const cookie = res.headers.get("Set-Cookie");
    expect(cookie).toMatch(/^cohort_id=/);
    await drainQueue();
    const row = await env.DB.prepare("SELECT payload AS event, profile_key FROM events WHERE message_id = ?").bind(messageId).first<{ event: string; profile_key: string }>();
    const stored = JSON.parse(row!.event) as { context: { consent: Record<string, unknown> }; consent: { purposes: Record<string, boolean>; sources: Record<string, string> } };
    expect(stored.context.consent.googleConsentMode).toEqual(MODE);
    expect(stored.consent).toMatchObject({ purposes: { analytics: true, personalization: false, advertising: false }, sources: { analytics: "consentMode", personalization: "region", advertising: "consentMode" } });
    const anonymousId = row!.profile_key.split(":anon:")[1]!;
    const profile = await (await lookup(`anonymousId=${anonymousId}`, "ws_consent_mode")).json<{ consent: { sources: Record<string, string> } }>();
    expect(profile.consent.sources).toEqual({ analytics: "consentMode", personalization: "region", advertising: "consentMode" });
  });

  it("is refused by index when a value is neither granted nor denied, naming the field", async () => {
    const res = await browserPost(site, "/v1/batch", {
      batch: [{ type: "page" }, { type: "page", context: { consent: { googleConsentMode: { ad_storage: "yes" } } } }],
    });
    expect(res.status).toBe(200);
    expect((await res.json<{ rejected: unknown[] }>()).rejected).toEqual([
      { index: 1, code: "invalid_event", message: 'batch.1.context.consent.googleConsentMode.ad_storage: must be "granted" or "denied"', path: "batch.1.context.consent.googleConsentMode.ad_storage" },
    ]);
  });
});
