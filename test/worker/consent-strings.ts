// Real IAB strings for tests, made with the IAB's own libraries (never hand-written).
import { GppModel } from "@iabgpp/cmpapi";
import { GVL, TCModel, TCString } from "@iabtechlabtcf/core";

/** A minimal Global Vendor List: the eleven TCF purposes and no vendors. */
const gvl = () =>
  new GVL({
    gvlSpecificationVersion: 3,
    vendorListVersion: 1,
    tcfPolicyVersion: 5,
    lastUpdated: "2026-01-01T00:00:00Z",
    purposes: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [i + 1, { id: i + 1, name: `Purpose ${i + 1}`, description: "" }])),
    specialPurposes: {},
    features: {},
    specialFeatures: {},
    stacks: {},
    dataCategories: {},
    vendors: {},
  } as unknown as ConstructorParameters<typeof GVL>[0]);

/** A TC string with the given publisher consents (or, with `global`, purpose consents). */
export function tcString(purposes: number[], options: { global?: boolean } = {}): string {
  return TCString.encode(tcStringModel(purposes, options));
}

/** The model behind `tcString`. */
export function tcStringModel(purposes: number[], options: { global?: boolean } = {}): TCModel {
  const model = new TCModel(gvl());
  model.cmpId = 10;
  model.cmpVersion = 1;
  model.isServiceSpecific = true;
  (options.global ? model.purposeConsents : model.publisherConsents).set(purposes);
  return model;
}

/** A GPP string with the given field values, e.g. `{usnat: {SaleOptOut: 1}}`. */
export function gppString(sections: Record<string, Record<string, unknown>>): string {
  const model = new GppModel();
  for (const [section, fields] of Object.entries(sections)) {
    for (const [field, value] of Object.entries(fields)) model.setFieldValue(section, field, value);
  }
  return model.encode();
}
