// Hostile consent strings for tests: a real TC string (encoded by @iabtechlabtcf/core) whose core
// segment is then given a vendor section that `TCString.decode` must walk range by range, up to
// the length the collection schema admits. Its purpose bits stay the encoder's.
import { Base64Url, BitLength, TCString } from "@iabtechlabtcf/core";
import { tcStringModel } from "./consent-strings";

/** Bits of the core segment up to and including the publisher country code (TCF v2 layout). */
const CORE_PREFIX_BITS = 213;

const bits = (value: number, width: number) => value.toString(2).padStart(width, "0");

/**
 * An `length`-character TC string granting the `purposes` (global purpose consents), whose vendor
 * consents are as many ranges 1–65535 as fit: each costs the library's decoder 65,535 steps.
 */
export function hostileTcString(purposes: number[], length = 8000): string {
  const model = tcStringModel(purposes, { global: true });
  const core = TCString.encode(model).split(".")[0]!;
  const prefix = Base64Url.decode(core).slice(0, CORE_PREFIX_BITS);
  const rangeBits = BitLength.singleOrRange + 2 * BitLength.vendorId;
  const entries = Math.min(2 ** BitLength.numEntries - 1, Math.floor((length * 6 - prefix.length - 30) / rangeBits));
  let vendor = bits(65535, BitLength.maxId) + "1" + bits(entries, BitLength.numEntries);
  for (let i = 0; i < entries; i++) vendor += "1" + bits(1, BitLength.vendorId) + bits(65535, BitLength.vendorId);
  const encoded = Base64Url.encode(prefix + vendor);
  return encoded.slice(0, length);
}

/**
 * A GPP header (type 3, version 1) whose section-id range is `count` spans of about 1.6e8 ids
 * each, Fibonacci-coded as the GPP spec says: `HeaderV1` would expand every id of them.
 */
export function explodingGppHeader(count = 40): string {
  const huge = "0".repeat(40) + "11";
  let header = bits(3, 6) + bits(1, 6) + bits(count, 12);
  for (let i = 0; i < count; i++) header += "1" + "011" + huge;
  return Base64Url.encode(header);
}
