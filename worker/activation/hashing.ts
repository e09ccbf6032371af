/**
 * Identifiers for ad platforms: normalised by each platform's rules, then SHA-256 (hex, lowercase).
 * Google Customer Match: email trimmed and lowercased, and for gmail.com / googlemail.com the dots
 * and any `+suffix` of the local part dropped; phone in E.164 (`+14155550100`). Meta Custom
 * Audiences: email trimmed and lowercased; phone as digits only, with the country code
 * (`14155550100`). Raw identifiers never leave this module in a request body.
 */
import { parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/min";

export type Platform = "google" | "meta" | "generic";

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const GMAIL_DOMAINS = new Set(["gmail.com", "googlemail.com"]);

/** The email as the platform hashes it, or undefined when it is not an email. */
export function normaliseEmail(raw: unknown, platform: Platform): string | undefined {
  if (typeof raw !== "string") return undefined;
  const email = raw.trim().toLowerCase();
  if (!EMAIL.test(email)) return undefined;
  if (platform !== "google") return email;
  const at = email.lastIndexOf("@");
  const domain = email.slice(at + 1);
  if (!GMAIL_DOMAINS.has(domain)) return email;
  const local = email.slice(0, at).split("+")[0]!.replaceAll(".", "");
  return local ? `${local}@${domain}` : undefined;
}

/**
 * The phone in E.164, or undefined. A number without `+` needs `defaultCountry` (ISO 3166 alpha-2,
 * e.g. "US"); without it such a number is not guessed at.
 */
export function normalisePhone(raw: unknown, defaultCountry?: string): string | undefined {
  if (typeof raw !== "string" && typeof raw !== "number") return undefined;
  const text = String(raw).trim();
  if (!text) return undefined;
  const parsed = parsePhoneNumberFromString(text, defaultCountry ? { defaultCountry: defaultCountry.toUpperCase() as CountryCode } : undefined);
  if (!parsed || !parsed.isPossible()) return undefined;
  return parsed.number;
}

/** The phone as the platform writes it before hashing: E.164 for Google, digits only for Meta. */
export function platformPhone(e164: string, platform: Platform): string {
  return platform === "meta" ? e164.replace(/\D/g, "") : e164;
}

export interface HashedIdentifiers {
  email?: string;
  phone?: string;
}

/** A profile's email and phone, normalised for `platform` and hashed. */
export async function hashIdentifiers(traits: Record<string, unknown>, platform: Platform, defaultCountry?: string): Promise<HashedIdentifiers> {
  const out: HashedIdentifiers = {};
  const email = normaliseEmail(traits.email, platform);
  if (email) out.email = await sha256Hex(email);
  const e164 = normalisePhone(traits.phone ?? traits.phoneNumber ?? traits.phone_number, defaultCountry);
  if (e164) out.phone = await sha256Hex(platformPhone(e164, platform));
  return out;
}
