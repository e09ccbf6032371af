// RudderStack's `context.consentManagement` → Cohort's purposes (README "Consent"): the mapping table.
import { describe, expect, it } from "vitest";
import { purposesFromConsentIds, type ConsentManagement } from "../../../worker/consent/consent-ids";

const cases: [string, ConsentManagement, Record<string, boolean>][] = [
  ["category names, any case", { provider: "custom", allowedConsentIds: ["Analytics", "marketing"], deniedConsentIds: ["Personalisation"] }, { analytics: true, advertising: true, personalization: false }],
  ["OneTrust's standard ids", { provider: "oneTrust", allowedConsentIds: ["C0001", "C0002", "C0003"], deniedConsentIds: ["C0004", "C0005"] }, { analytics: true, personalization: true, advertising: false }],
  ["OneTrust's ids as a map of id to name", { provider: "oneTrust", allowedConsentIds: { C0002: "Performance Cookies" }, deniedConsentIds: { C0004: "Targeting Cookies" } }, { analytics: true, advertising: false }],
  ["a map whose ids are unknown but whose names are", { allowedConsentIds: { X1: "Statistics" } }, { analytics: true }],
  ["iubenda's purpose numbers", { provider: "iubenda", allowedConsentIds: ["1", "4"], deniedConsentIds: ["3", "5"] }, { analytics: true, personalization: false, advertising: false }],
  ["numbers mean nothing without iubenda", { provider: "custom", allowedConsentIds: ["4", "5"] }, {}],
  ["Ketch's advertising codes", { provider: "ketch", allowedConsentIds: ["analytics"], deniedConsentIds: ["targeted_advertising"] }, { analytics: true, advertising: false }],
  ["denied wins when both lists name a purpose", { allowedConsentIds: ["marketing"], deniedConsentIds: ["C0004"] }, { advertising: false }],
  ["ids that name no purpose are ignored", { allowedConsentIds: ["necessary", "C0005", "my-own-category"] }, {}],
  ["nothing sent", {}, {}],
];

describe("purposesFromConsentIds", () => {
  it.each(cases)("%s", (_name, consent, expected) => {
    expect(purposesFromConsentIds(consent)).toEqual(expected);
  });
});
