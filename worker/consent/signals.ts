/**
 * Decoding the IAB signals: a TCF v2.2 TC string (`@iabtechlabtcf/core`) and a GPP string
 * (`@iabgpp/cmpapi`). Both are untrusted input: a string that does not decode is ignored, never
 * an error for the event that carried it.
 */
import { GppModel } from "@iabgpp/cmpapi";
import { TCString } from "@iabtechlabtcf/core";
import type { Purpose } from "./purposes";

/**
 * TCF purposes each Cohort purpose needs (all of a list; `anyOf` needs one more of those):
 * storage (1) always; analytics also 8 (measure content performance) or 9 (audience statistics);
 * personalisation 5 and 6 (build and use a content profile); advertising 3 and 4 (build and use an
 * ad profile).
 */
export const TCF_MAPPING: Record<Purpose, { all: number[]; anyOf?: number[] }> = {
  analytics: { all: [1], anyOf: [8, 9] },
  personalization: { all: [1, 5, 6] },
  advertising: { all: [1, 3, 4] },
};

/**
 * The purposes a TC string grants to Cohort, the site's own first-party processing: the
 * publisher consents when the string carries a publisher segment, else the global purpose consents.
 * Undefined when the string does not decode.
 */
export function purposesFromTcString(tcString: string): Record<Purpose, boolean> | undefined {
  let consents: { has(id: number): boolean; size: number };
  try {
    const model = TCString.decode(tcString.trim());
    consents = model.publisherConsents.size > 0 ? model.publisherConsents : model.purposeConsents;
  } catch {
    return undefined;
  }
  const grants = ({ all, anyOf }: { all: number[]; anyOf?: number[] }) =>
    all.every((id) => consents.has(id)) && (!anyOf || anyOf.some((id) => consents.has(id)));
  return {
    analytics: grants(TCF_MAPPING.analytics),
    personalization: grants(TCF_MAPPING.personalization),
    advertising: grants(TCF_MAPPING.advertising),
  };
}

/** US state privacy sections of GPP whose opt-outs Cohort honours. */
const US_SECTIONS = ["usnat", "usca", "usva", "usco", "usut", "usct", "usfl", "usmt", "usor", "ustx", "usde", "usia", "usne", "usnh", "usnj", "ustn", "usmn", "usmd", "usin", "usky", "usri"];
/** 1 = opted out, in every US section. */
const OPTED_OUT = 1;

export interface GppSignal {
  /** A sale, sharing or targeted-advertising opt-out (or GPC) in any US section. */
  advertisingOptOut: boolean;
  /** The TC string of an EU TCF section carried inside the GPP string, if any. */
  tcString?: string;
}

export function decodeGpp(gppString: string): GppSignal | undefined {
  let model: GppModel;
  try {
    model = new GppModel(gppString.trim());
    model.getSectionIds();
  } catch {
    return undefined;
  }
  let advertisingOptOut = false;
  for (const section of US_SECTIONS) {
    try {
      if (!model.hasSection(section)) continue;
      for (const field of ["SaleOptOut", "SharingOptOut", "TargetedAdvertisingOptOut"]) {
        if (model.hasField(section, field) && model.getFieldValue(section, field) === OPTED_OUT) advertisingOptOut = true;
      }
      if (model.hasField(section, "Gpc") && model.getFieldValue(section, "Gpc") === true) advertisingOptOut = true;
    } catch {
      // A section that does not decode says nothing.
    }
  }
  let tcString: string | undefined;
  try {
    if (model.hasSection("tcfeuv2")) tcString = model.encodeSection("tcfeuv2");
  } catch {
    tcString = undefined;
  }
  return { advertisingOptOut, tcString };
}
