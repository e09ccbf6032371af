// Consent resolution, table-driven: every signal, its strength, regions and site policy.
import { describe, expect, it } from "vitest";
import type { ConsentPolicy } from "../../worker/consent/purposes";
import { purposesFromCategories } from "../../worker/consent/purposes";
import { combineExplicit, decodeConsentCookie, encodeConsentCookie, resolveConsent, type ConsentSignals } from "../../worker/consent/resolve";
import { gppString, tcString } from "./consent-strings";

const open: ConsentPolicy = { purposes: ["analytics", "personalization", "advertising"], defaults: {}, policyVersion: "1" };
const optInSite: ConsentPolicy = { ...open, defaults: { analytics: false, personalization: false, advertising: false } };
const noAds: ConsentPolicy = { ...open, purposes: ["analytics", "personalization"] };
const NOW = Date.parse("2026-06-01T00:00:00Z");

type Row = [string, ConsentPolicy, ConsentSignals, string];
/** Expected as "a p d" with 1/0 and the sources, e.g. "1 1 0 | default default gpc". */
const cases: Row[] = [
  ["US visitor, open site: defaults grant", open, { country: "US" }, "1 1 1 | default default default"],
  ["German visitor: opt-in region", open, { country: "DE" }, "0 0 0 | region region region"],
  ["UK visitor: opt-in region", open, { country: "GB" }, "0 0 0 | region region region"],
  ["Swiss visitor: opt-in region", open, { country: "ch" }, "0 0 0 | region region region"],
  ["unknown country: opt-in", open, {}, "0 0 0 | region region region"],
  ["opt-in site in the US", optInSite, { country: "US" }, "0 0 0 | default default default"],
  ["site without advertising", noAds, { country: "US" }, "1 1 0 | default default site"],
  ["GPC turns advertising off only", open, { country: "US", gpc: true }, "1 1 0 | default default gpc"],
  ["explicit choice in the EEA", open, { country: "FR", explicit: { purposes: { analytics: true }, at: NOW } }, "1 0 0 | explicit region region"],
  ["explicit beats GPC", open, { country: "US", gpc: true, explicit: { purposes: { advertising: true }, at: NOW } }, "1 1 1 | default default explicit"],
  ["explicit refusal on an open site", open, { country: "US", explicit: { purposes: { analytics: false, personalization: false }, at: NOW } }, "0 0 1 | explicit explicit default"],
  ["explicit cannot grant a purpose the site does not use", noAds, { country: "US", explicit: { purposes: { advertising: true }, at: NOW } }, "1 1 0 | default default site"],
  ["TCF: storage + measurement grants analytics", open, { country: "DE", tcString: tcString([1, 8]) }, "1 0 0 | tcf tcf tcf"],
  ["TCF: audience statistics also grants analytics", open, { country: "DE", tcString: tcString([1, 9]) }, "1 0 0 | tcf tcf tcf"],
  ["TCF: no storage, no analytics", open, { country: "DE", tcString: tcString([8, 9]) }, "0 0 0 | tcf tcf tcf"],
  ["TCF: personalisation needs 1, 5 and 6", open, { country: "DE", tcString: tcString([1, 5, 6]) }, "0 1 0 | tcf tcf tcf"],
  ["TCF: 5 without 6 is not personalisation", open, { country: "DE", tcString: tcString([1, 5]) }, "0 0 0 | tcf tcf tcf"],
  ["TCF: advertising needs 1, 3 and 4", open, { country: "DE", tcString: tcString([1, 3, 4]) }, "0 0 1 | tcf tcf tcf"],
  ["TCF: everything", open, { country: "DE", tcString: tcString([1, 3, 4, 5, 6, 8, 9]) }, "1 1 1 | tcf tcf tcf"],
  ["TCF: global purpose consents when no publisher segment", open, { country: "DE", tcString: tcString([1, 8], { global: true }) }, "1 0 0 | tcf tcf tcf"],
  ["TCF beats the US default", open, { country: "US", tcString: tcString([1]) }, "0 0 0 | tcf tcf tcf"],
  ["explicit beats TCF", open, { country: "DE", tcString: tcString([1, 8]), explicit: { purposes: { analytics: false }, at: NOW } }, "0 0 0 | explicit tcf tcf"],
  ["an undecodable TC string is ignored", open, { country: "US", tcString: "not-a-tc-string" }, "1 1 1 | default default default"],
  ["GPP usnat sale opt-out", open, { country: "US", gppString: gppString({ usnat: { SaleOptOut: 1 } }) }, "1 1 0 | default default gpp"],
  ["GPP usnat targeted-ads opt-out", open, { country: "US", gppString: gppString({ usnat: { TargetedAdvertisingOptOut: 1 } }) }, "1 1 0 | default default gpp"],
  ["GPP usca sharing opt-out", open, { country: "US", gppString: gppString({ usca: { SharingOptOut: 1 } }) }, "1 1 0 | default default gpp"],
  ["GPP usca: did not opt out", open, { country: "US", gppString: gppString({ usca: { SharingOptOut: 2, SaleOptOut: 2 } }) }, "1 1 1 | default default default"],
  ["an undecodable GPP string is ignored", open, { country: "US", gppString: "garbage~string" }, "1 1 1 | default default default"],
];

describe("resolveConsent", () => {
  it.each(cases)("%s", (_name, policy, signals, expected) => {
    const state = resolveConsent(policy, signals, NOW);
    const [flags, sources] = expected.split(" | ");
    const [a, p, d] = flags!.split(" ").map((f) => f === "1");
    expect(state.purposes).toEqual({ necessary: true, analytics: a, personalization: p, advertising: d });
    expect([state.sources.analytics, state.sources.personalization, state.sources.advertising].join(" ")).toBe(sources);
    expect(state.policyVersion).toBe("1");
  });
});

describe("explicit choices", () => {
  it("combine in time order, a later choice overriding what it names", () => {
    const older = { purposes: { analytics: true, advertising: true }, at: 1000 };
    const newer = { purposes: { advertising: false }, at: 2000 };
    expect(combineExplicit(newer, undefined, older)).toEqual({ purposes: { analytics: true, advertising: false }, at: 2000 });
    expect(combineExplicit(undefined)).toBeUndefined();
  });

  it("map Segment category names case-insensitively", () => {
    expect(purposesFromCategories({ Analytics: true, MARKETING: false, Functional: true, Unknown: true, advertising: "yes" })).toEqual({
      analytics: true,
      advertising: false,
      personalization: true,
    });
  });

  it.each([
    [{ purposes: { analytics: true, personalization: false }, at: 1_764_000_000_000 }, "1764000000.10-"],
    [{ purposes: {}, at: 5000 }, "5.---"],
  ])("round-trip through the consent cookie: %j", (choice, value) => {
    expect(encodeConsentCookie(choice)).toBe(value);
    expect(decodeConsentCookie(value)).toEqual(choice);
  });

  it.each(["", "abc", "1.10", "1.1x0", "12.1011"])("ignore a malformed consent cookie %j", (value) => {
    expect(decodeConsentCookie(value)).toBeUndefined();
  });
});
