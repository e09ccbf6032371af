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

/** The ledger's pseudonym for a profile key. */
export const ledgerSubject = (profileKey: string) => sha256Hex(`cohort-ledger:${profileKey}`);

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
