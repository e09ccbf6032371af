/**
 * The `cohort_id` cookie: `<id>.<keyId>.<signature>`, where the signature is HMAC-SHA256, under the
 * key named by keyId (base64url), of the workspace and the id together: a cookie of one workspace
 * is not a visitor of another (it is ignored there, and the collection routes replace it).
 * `COOKIE_SECRET` is either one secret, or a rotation list `keyId:secret,keyId:secret,…` whose
 * first entry signs new cookies and all of which verify, so a secret can be rotated without
 * logging every visitor out.
 *
 * Cookies from before the workspace was signed (the HMAC of the id alone) are still accepted until
 * `LEGACY_COOKIES_UNTIL`, in whichever workspace shows them first: every collection response
 * re-signs the visitor's cookie, so a returning visitor's cookie is bound to its workspace on the
 * next event, and visitors keep their profile and their experiment variants across the upgrade.
 * After that date a legacy cookie is ignored like a forged one (a new visitor id is issued).
 */

export const COOKIE_NAME = "cohort_id";
/** Browsers cap cookie lifetimes at 400 days (RFC 6265bis). */
export const COOKIE_MAX_AGE = 400 * 24 * 60 * 60;

interface SigningKey {
  id: string;
  key: CryptoKey;
}

const encoder = new TextEncoder();
const keyCache = new Map<string, Promise<SigningKey[]>>();

function base64url(bytes: ArrayBuffer): string {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Parses COOKIE_SECRET into HMAC keys, once per isolate. */
export function signingKeys(secret: string): Promise<SigningKey[]> {
  let keys = keyCache.get(secret);
  if (!keys) {
    const entries = secret.includes(":")
      ? secret.split(",").map((entry) => {
          const at = entry.indexOf(":");
          return { id: entry.slice(0, at).trim(), secret: entry.slice(at + 1).trim() };
        })
      : [{ id: "0", secret }];
    keys = Promise.all(
      entries.map(async (entry) => {
        if (!/^[A-Za-z0-9_-]{1,16}$/.test(entry.id) || entry.secret.length < 16) {
          throw new Error("COOKIE_SECRET: each entry needs a key id of [A-Za-z0-9_-] and a secret of 16+ characters");
        }
        const key = await crypto.subtle.importKey("raw", encoder.encode(entry.secret), { name: "HMAC", hash: "SHA-256" }, false, [
          "sign",
          "verify",
        ]);
        return { id: entry.id, key };
      }),
    );
    keyCache.set(secret, keys);
  }
  return keys;
}

/** A fresh random visitor id: 128 bits, base64url. */
export function newVisitorId(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(16)).buffer);
}

/** Until when a cookie signed over the id alone (before workspaces were signed) is accepted. */
export const LEGACY_COOKIES_UNTIL = Date.UTC(2027, 5, 30);

/** What the signature covers: the workspace and the id (neither can hold a `.`). */
const signed = (workspaceId: string, id: string) => encoder.encode(`cohort_id/2.${workspaceId}.${id}`);

export async function signVisitorId(id: string, secret: string, workspaceId: string): Promise<string> {
  const [current] = await signingKeys(secret);
  const signature = await crypto.subtle.sign("HMAC", current!.key, signed(workspaceId, id));
  return `${id}.${current!.id}.${base64url(signature)}`;
}

/**
 * The visitor id in a cookie value, or undefined when the value is malformed, signed by an unknown
 * key, forged, or signed for another workspace. Verification goes through `crypto.subtle.verify`,
 * which compares in constant time.
 */
export async function verifyVisitorCookie(value: string | undefined, secret: string, workspaceId: string, now = Date.now()): Promise<string | undefined> {
  if (!value) return undefined;
  const match = /^([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{1,16})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!match) return undefined;
  const [, id, keyId, signature] = match;
  const key = (await signingKeys(secret)).find((k) => k.id === keyId);
  if (!key) return undefined;
  const bytes = Uint8Array.from(atob(signature!.replace(/-/g, "+").replace(/_/g, "/") + "="), (c) => c.charCodeAt(0));
  if (await crypto.subtle.verify("HMAC", key.key, bytes, signed(workspaceId, id!))) return id;
  const legacy = now < LEGACY_COOKIES_UNTIL && (await crypto.subtle.verify("HMAC", key.key, bytes, encoder.encode(id)));
  return legacy ? id : undefined;
}

export interface CookieOptions {
  domain?: string | null;
  /** Defaults to `cohort_id`. */
  name?: string;
  /** Seconds; 0 deletes the cookie. Defaults to 400 days. */
  maxAge?: number;
  /** Plain-http localhost cannot keep Secure cookies in every browser: only there is Secure left off. */
  secure: boolean;
}

/** The Set-Cookie header value for a signed visitor id (or, by `name`, another Cohort cookie). */
export function visitorCookieHeader(value: string, options: CookieOptions): string {
  const parts = [`${options.name ?? COOKIE_NAME}=${value}`, `Max-Age=${options.maxAge ?? COOKIE_MAX_AGE}`, "Path=/", "HttpOnly", "SameSite=Lax"];
  if (options.secure) parts.push("Secure");
  if (options.domain) parts.push(`Domain=${options.domain}`);
  return parts.join("; ");
}
