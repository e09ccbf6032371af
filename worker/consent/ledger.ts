/**
 * The consent ledger's hash chain (see `consentLedger` in store/schema.ts): each entry's hash
 * covers its content and the previous entry's hash, per site, from `GENESIS`. `verifyChain` finds
 * the first entry that was edited, removed or inserted out of order.
 */
import { sha256Hex } from "../store/sites";

export const GENESIS = "genesis";

export interface LedgerEntry {
  id: string;
  siteId: string;
  workspaceId: string;
  subject: string | null;
  at: number;
  signals: string;
  consent: string;
  policyVersion: string;
  prevHash: string;
}

export const entryHash = (entry: LedgerEntry) =>
  sha256Hex(
    JSON.stringify([entry.id, entry.siteId, entry.workspaceId, entry.subject, entry.at, entry.signals, entry.consent, entry.policyVersion, entry.prevHash]),
  );

/**
 * The ledger's pseudonym for a profile key: HMAC-SHA256 under a key derived (HKDF-SHA256, its own
 * `info`) from `DATA_SECRET`, which never leaves the Worker. Knowing a userId is not enough to
 * find its entries: the pseudonym needs the secret, so after erasure nothing outside the Worker
 * links the entries back to the person.
 *
 * Entries written before (an unkeyed SHA-256 of the key, `legacyLedgerSubject`) keep their
 * subject: each entry's hash covers its subject and the next entry's covers that hash, so
 * re-keying them would mean recomputing every hash after the first, the very edit the chain exists
 * to reveal. They stay verifiable; an export looks them up by both forms.
 */
export async function ledgerSubject(profileKey: string, dataSecret: string): Promise<string> {
  const key = await subjectKey(dataSecret);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(profileKey));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The unkeyed pseudonym of entries written before `ledgerSubject` was keyed. */
export const legacyLedgerSubject = (profileKey: string) => sha256Hex(`cohort-ledger:${profileKey}`);

const subjectKeys = new Map<string, Promise<CryptoKey>>();

/** The HMAC key for ledger subjects, derived from DATA_SECRET once per isolate. */
function subjectKey(dataSecret: string): Promise<CryptoKey> {
  let key = subjectKeys.get(dataSecret);
  if (!key) {
    if (!dataSecret) throw new Error("DATA_SECRET is not set: the consent ledger's pseudonyms are keyed by it");
    key = crypto.subtle
      .importKey("raw", new TextEncoder().encode(dataSecret), "HKDF", false, ["deriveKey"])
      .then((material) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode("cohort/consent-ledger/subject") },
          material,
          { name: "HMAC", hash: "SHA-256", length: 256 },
          false,
          ["sign"],
        ),
      );
    subjectKeys.set(dataSecret, key);
  }
  return key;
}

export interface ChainCheck {
  valid: boolean;
  entries: number;
  /** The id of the first entry that does not follow from the one before it. */
  brokenAt?: string;
  reason?: string;
}

/** Checks a site's entries, given in order of appending. */
export async function verifyChain(entries: (LedgerEntry & { hash: string })[]): Promise<ChainCheck> {
  let prev = GENESIS;
  for (const entry of entries) {
    if (entry.prevHash !== prev) return { valid: false, entries: entries.length, brokenAt: entry.id, reason: "an entry before it was removed or reordered" };
    if ((await entryHash(entry)) !== entry.hash) return { valid: false, entries: entries.length, brokenAt: entry.id, reason: "its content was changed" };
    prev = entry.hash;
  }
  return { valid: true, entries: entries.length };
}
