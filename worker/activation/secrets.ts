/**
 * Destination signing secrets at rest: sealed with AES-GCM under a key derived (HKDF-SHA-256) from
 * the Worker secret DATA_SECRET, so a copy of D1 alone does not let anyone forge a webhook.
 */
const keys = new Map<string, Promise<CryptoKey>>();

function keyOf(dataSecret: string): Promise<CryptoKey> {
  let key = keys.get(dataSecret);
  if (!key) {
    key = (async () => {
      const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(dataSecret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode("cohort destination secrets v1") },
        base,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
    keys.set(dataSecret, key);
  }
  return key;
}

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

export async function seal(dataSecret: string, plain: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await keyOf(dataSecret), new TextEncoder().encode(plain));
  return `v1.${b64(iv)}.${b64(new Uint8Array(sealed))}`;
}

export async function unseal(dataSecret: string, sealed: string): Promise<string> {
  const [version, iv, data] = sealed.split(".");
  if (version !== "v1" || !iv || !data) throw new Error("unknown sealed secret format");
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: unb64(iv) }, await keyOf(dataSecret), unb64(data));
  return new TextDecoder().decode(plain);
}
