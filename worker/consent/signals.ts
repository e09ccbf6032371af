/**
 * Decoding the IAB signals: a TCF v2.2 TC string and a GPP string. Both are untrusted input: a
 * string that does not decode is ignored, never an error for the event that carried it.
 *
 * Bounded work, whatever the string holds (issue 10): Cohort uses only the purpose consents of a
 * TC string, which sit in its first 213 bits. `TCString.decode` would also walk every vendor
 * range (a crafted 8,000-character string took seconds), so the purpose bits are read here from
 * `@iabtechlabtcf/core`'s own field layout (`FieldSequence`, `BitLength`, `Base64Url`), from the
 * first 36 characters of the core segment and the first 5 of a publisher segment. Of a GPP
 * string, the header is read with bounds (`gppSectionIds`), only the US sections Cohort honours are
 * decoded (by `@iabgpp/cmpapi`, each a handful of fixed-width fields, bounded in length), and its
 * TCF EU section goes through the same core-bits reader; nothing re-encodes. Longer strings than
 * `MAX_CONSENT_STRING` are ignored.
 */
import { CompressedBase64UrlEncoder, FibonacciIntegerEncoder, GppModel, HeaderV1, Sections } from "@iabgpp/cmpapi";
import { Base64Url, BitLength, FieldSequence, Fields, Segment, SegmentIDs } from "@iabtechlabtcf/core";
import type { Purpose } from "./purposes";

/** The longest TC or GPP string looked at (a real one with a full vendor list is 1–3 KB). */
export const MAX_CONSENT_STRING = 8192;

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

/** Where the purpose bits start in a core segment, per TCF version, from the library's layout. */
const PURPOSE_OFFSET: Record<string, number> = Object.fromEntries(
  Object.entries(new FieldSequence() as unknown as Record<string, Record<string, string[]>>).map(([version, segments]) => {
    const fields = segments[Segment.CORE]!;
    const before = fields.slice(0, fields.indexOf(Fields.purposeConsents));
    return [version, before.reduce((sum, field) => sum + (BitLength as unknown as Record<string, number>)[field]!, 0)];
  }),
);
const VERSION_BITS = BitLength[Fields.version];
const PURPOSE_BITS = BitLength[Fields.purposeConsents];
const SEGMENT_TYPE_BITS = BitLength.segmentType;
const PUBLISHER_TC = SegmentIDs.KEY_TO_ID[Segment.PUBLISHER_TC];
/** Base64url characters that hold the first `bits` bits (six bits a character). */
const chars = (bits: number) => Math.ceil(bits / 6);

/** The bits of the first `bits` of a base64url segment, or undefined when it is shorter or not base64url. */
function leadingBits(segment: string, bits: number): string | undefined {
  const head = segment.slice(0, chars(bits));
  if (head.length < chars(bits)) return undefined;
  try {
    return Base64Url.decode(head);
  } catch {
    return undefined;
  }
}

/** The purpose ids set in a 24-bit purpose field. */
const purposeIds = (bits: string) => new Set([...bits].flatMap((bit, i) => (bit === "1" ? [i + 1] : [])));

/**
 * The purposes a TC string grants to Cohort, the site's own first-party processing: the
 * publisher consents when the string carries a publisher segment with any, else the global purpose
 * consents. Undefined when the string does not decode.
 */
export function purposesFromTcString(tcString: string): Record<Purpose, boolean> | undefined {
  const value = tcString.trim();
  if (value.length === 0 || value.length > MAX_CONSENT_STRING) return undefined;
  // At most the four segment kinds TCF defines; anything past them is not looked at.
  const [core = "", ...rest] = value.split(".", 4);
  const versionBits = leadingBits(core, VERSION_BITS);
  const offset = versionBits === undefined ? undefined : PURPOSE_OFFSET[String(parseInt(versionBits.slice(0, VERSION_BITS), 2))];
  if (offset === undefined) return undefined;
  const coreBits = leadingBits(core, offset + PURPOSE_BITS);
  if (coreBits === undefined) return undefined;
  let consents = purposeIds(coreBits.slice(offset, offset + PURPOSE_BITS));
  for (const segment of rest) {
    const type = leadingBits(segment, SEGMENT_TYPE_BITS);
    if (type === undefined) return undefined;
    if (parseInt(type.slice(0, SEGMENT_TYPE_BITS), 2) !== PUBLISHER_TC) continue;
    const bits = leadingBits(segment, SEGMENT_TYPE_BITS + PURPOSE_BITS);
    if (bits === undefined) return undefined;
    const publisher = purposeIds(bits.slice(SEGMENT_TYPE_BITS, SEGMENT_TYPE_BITS + PURPOSE_BITS));
    if (publisher.size > 0) consents = publisher;
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
const US_SECTIONS = new Set(["usnat", "usca", "usva", "usco", "usut", "usct", "usfl", "usmt", "usor", "ustx", "usde", "usia", "usne", "usnh", "usnj", "ustn", "usmn", "usmd", "usin", "usky", "usri"]);
const TCF_EU = "tcfeuv2";
/** 1 = opted out, in every US section. */
const OPTED_OUT = 1;

export interface GppSignal {
  /** A sale, sharing or targeted-advertising opt-out (or GPC) in any US section. */
  advertisingOptOut: boolean;
  /** What the EU TCF section carried inside the GPP string grants, if there is one that decodes. */
  tcf?: Record<Purpose, boolean>;
}

/**
 * Bounds on a GPP string's parts. A header lists section ids as a Fibonacci-coded range, which
 * `HeaderV1` expands id by id: a 1,000-character crafted header asked for an array of 169 million
 * ids. So the header is read here, from the bits `CompressedBase64UrlEncoder` gives and each code
 * through `FibonacciIntegerEncoder`, with every id bounded by the highest section id there is. A
 * US section is a few dozen fixed-width fields (under 100 characters in practice).
 */
const MAX_HEADER_CHARS = 64;
const MAX_US_SECTION_CHARS = 128;
const MAX_SECTION_ID = Math.max(...Sections.SECTION_ID_NAME_MAP.keys());
/** The longest Fibonacci code of an id up to MAX_SECTION_ID (with its terminating 1). */
const MAX_FIBONACCI_BITS = 12;
const HEADER_TYPE = HeaderV1.ID;
const HEADER_VERSION = HeaderV1.VERSION;

/** The section ids a GPP header lists, in order, or undefined when it is not a header. */
export function gppSectionIds(header: string): number[] | undefined {
  if (header.length === 0 || header.length > MAX_HEADER_CHARS) return undefined;
  let bits: string;
  try {
    bits = CompressedBase64UrlEncoder.getInstance().decode(header);
  } catch {
    return undefined;
  }
  if (parseInt(bits.slice(0, 6), 2) !== HEADER_TYPE || parseInt(bits.slice(6, 12), 2) !== HEADER_VERSION) return undefined;
  const count = parseInt(bits.slice(12, 24), 2);
  if (!(count >= 0) || count > MAX_SECTION_ID) return undefined;
  let at = 24;
  let offset = 0;
  const code = () => {
    const end = bits.indexOf("11", at);
    if (end < 0 || end + 2 - at > MAX_FIBONACCI_BITS) return undefined;
    const value = FibonacciIntegerEncoder.decode(bits.slice(at, end + 2));
    at = end + 2;
    return value;
  };
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const range = bits[at++] === "1";
    const first = code();
    if (first === undefined || offset + first > MAX_SECTION_ID) return undefined;
    offset += first;
    if (!range) {
      ids.push(offset);
      continue;
    }
    const span = code();
    if (span === undefined || offset + span > MAX_SECTION_ID) return undefined;
    for (let id = offset; id <= offset + span; id++) ids.push(id);
    offset += span;
  }
  return ids;
}

export function decodeGpp(gppString: string): GppSignal | undefined {
  const value = gppString.trim();
  if (value.length === 0 || value.length > MAX_CONSENT_STRING) return undefined;
  const [headerText = "", ...sections] = value.split("~", MAX_SECTION_ID + 2);
  const ids = gppSectionIds(headerText);
  if (!ids || ids.length !== sections.length) return undefined;
  let advertisingOptOut = false;
  let tcf: Record<Purpose, boolean> | undefined;
  const model = new GppModel();
  ids.forEach((id, i) => {
    const name = Sections.SECTION_ID_NAME_MAP.get(id);
    const text = sections[i]!;
    if (name === TCF_EU) tcf = purposesFromTcString(text);
    if (!name || !US_SECTIONS.has(name) || text.length > MAX_US_SECTION_CHARS) return;
    try {
      model.decodeSection(name, text);
      for (const field of ["SaleOptOut", "SharingOptOut", "TargetedAdvertisingOptOut"]) {
        if (model.hasField(name, field) && model.getFieldValue(name, field) === OPTED_OUT) advertisingOptOut = true;
      }
      if (model.hasField(name, "Gpc") && model.getFieldValue(name, "Gpc") === true) advertisingOptOut = true;
    } catch {
      // A section that does not decode says nothing.
    }
  });
  return { advertisingOptOut, tcf };
}
