/**
 * Values kept sealed in D1 (a site's identity secret): AES-256-GCM under a key derived with HKDF
 * from the Worker secret DATA_SECRET, so a copy of the database alone does not reveal them. Each
 * value is bound to a context (its site) as additional data: moved to another row, it does not open.
 * Format: `v1.<iv>.<ciphertext>` (base64url), a fresh 96-bit IV per value.
 */
const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function sealingKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"])
      .then((base) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: encoder.encode("cohort"), info: encoder.encode("cohort/sealed-values/v1") },
          base,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      );
    keys.set(secret, key);
  }
  return key;
}

const toBase64Url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
const fromBase64Url = (text: string) => Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));

export class SealError extends Error {
  override name = "SealError";
}

/** Seals `value` under `secret`, bound to `context`. */
export async function seal(secret: string, value: string, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: encoder.encode(context) }, await sealingKey(secret), encoder.encode(value));
  return `v1.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
}

/** Opens a sealed value; throws SealError when it was not sealed under this secret and context. */
export async function open(secret: string, sealed: string, context: string): Promise<string> {
  const [version, iv, data] = sealed.split(".");
  if (version !== "v1" || !iv || !data) throw new SealError("not a sealed value");
  try {
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64Url(iv), additionalData: encoder.encode(context) }, await sealingKey(secret), fromBase64Url(data));
    return new TextDecoder().decode(plain);
  } catch (error) {
    throw new SealError("the sealed value does not open with this DATA_SECRET (was it changed?)", { cause: error });
  }
}
