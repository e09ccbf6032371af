/**
 * Where a destination may send (DESIGN.md §3 "SSRF"). Deployed, only public HTTPS addresses: no
 * credentials in the URL, no IP literal in a private, loopback, link-local, shared or multicast
 * range, no `localhost`, `.local` or `.internal` name; redirects are never followed (the sender uses
 * `redirect: "manual"`). The Worker knows it runs in local development when its variable
 * `ALLOW_LOCAL_DESTINATIONS` is "true" (set by `npm start`, the e2e suite and the bench; "false" in
 * wrangler.toml): then plain HTTP and local addresses are allowed, so tests can use local receivers.
 */
export const localDestinationsAllowed = (env: Pick<Env, "ALLOW_LOCAL_DESTINATIONS">) => String(env.ALLOW_LOCAL_DESTINATIONS) === "true";

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

function privateIPv4(host: string): boolean {
  const parts = host.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return false;
  const [a, b] = parts as [number, number, number, number];
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

function privateIPv6(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "::" || h === "::1") return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return privateIPv4(mapped[1]!);
  if (/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(h)) return true;
  return /^(fc|fd|fe[89ab]|ff)/.test(h);
}

export function checkDestinationUrl(raw: string, allowLocal: boolean): UrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "is not a URL" };
  }
  if (url.username || url.password) return { ok: false, reason: "must not carry credentials" };
  if (allowLocal) {
    return url.protocol === "https:" || url.protocol === "http:" ? { ok: true, url } : { ok: false, reason: "must be http or https" };
  }
  if (url.protocol !== "https:") return { ok: false, reason: "must be https (plain http only in local development)" };
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost") || host.endsWith(".local") || host.endsWith(".internal") || !host.includes(".") && !host.includes(":")) {
    return { ok: false, reason: "must be a public address" };
  }
  if (host.startsWith("[") ? privateIPv6(host) : privateIPv4(host)) return { ok: false, reason: "must be a public address, not a private, loopback or link-local one" };
  return { ok: true, url };
}
