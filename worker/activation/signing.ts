/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): a `whsec_<base64 key>` secret, and
 * `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`. During a rotation
 * both the new and the old secret sign, space-separated, so a receiver holding either verifies.
 */
export const SECRET_PREFIX = "whsec_";

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));

/** A new secret: 32 random bytes. */
export function newSecret(): string {
  return SECRET_PREFIX + b64(crypto.getRandomValues(new Uint8Array(32)));
}

function keyBytes(secret: string): Uint8Array {
  const text = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export async function sign(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", keyBytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return `v1,${b64(new Uint8Array(mac))}`;
}

/** The three Standard Webhooks headers, signed with every secret given (current first). */
export async function webhookHeaders(secrets: string[], id: string, timestamp: number, body: string): Promise<Record<string, string>> {
  const signatures = await Promise.all(secrets.map((secret) => sign(secret, id, timestamp, body)));
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signatures.join(" ") };
}
