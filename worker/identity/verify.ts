/**
 * Verified identity (DESIGN.md §3): a browser's userId is a claim, believed only with the
 * `userHash` the site's own server computed, `hex(HMAC-SHA256(identitySecret, userId))`, sent as
 * `context.identity.userHash`. A site with `identityVerification: "off"` trusts every claim.
 */

/** How the collection path verifies a site's browser userIds. */
export interface IdentityPolicy {
  /** false: the site trusts browser userIds (Segment's behaviour; the site accepts the risk). */
  required: boolean;
  /** The site's identity secret (none yet: no browser userId can be verified). */
  secret?: string;
}

const keys = new Map<string, Promise<CryptoKey>>();
const MAX_KEYS = 1000;

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(secret, key);
  }
  return key;
}

const HEX = /^[0-9a-f]{64}$/;

/** The userHash for a userId: what the site's server computes (also used by the demo's sign-in). */
export async function userHash(secret: string, userId: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(userId));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether `hash` proves `userId` under the policy (a constant-time comparison by the HMAC verify). */
export async function verifiesUser(policy: IdentityPolicy, userId: string, hash: unknown): Promise<boolean> {
  if (!policy.required) return true;
  if (!policy.secret || typeof hash !== "string" || !HEX.test(hash.toLowerCase())) return false;
  const bytes = new Uint8Array(32);
  const lower = hash.toLowerCase();
  for (let i = 0; i < 32; i++) bytes[i] = parseInt(lower.slice(i * 2, i * 2 + 2), 16);
  return crypto.subtle.verify("HMAC", await hmacKey(policy.secret), bytes, new TextEncoder().encode(userId));
}

/** The userHash an event carries, if any (`context.identity.userHash`). */
export function userHashOf(context: Record<string, unknown>): unknown {
  const identity = context.identity;
  return typeof identity === "object" && identity !== null ? (identity as Record<string, unknown>).userHash : undefined;
}
