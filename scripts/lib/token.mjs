// Signs an admin API token (HS256 JWT) the way the Worker's admin/auth.ts verifies it.
import { SignJWT } from "jose";

export const ROLES = ["admin", "editor", "viewer"];

/**
 * @param {string} secret ADMIN_JWT_SECRET
 * @param {{ role?: string, workspace?: string, subject?: string, expiresIn?: string }} options
 * @example await signAdminToken(secret, { role: "admin", workspace: "demo" })
 */
export async function signAdminToken(secret, { role = "admin", workspace = "demo", subject = "cli", expiresIn = "30d" } = {}) {
  if (!ROLES.includes(role)) throw new Error(`role must be one of ${ROLES.join(", ")}, not "${role}"`);
  return new SignJWT({ role, ws: workspace })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(subject)
    .setIssuer("cohort")
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));
}

/**
 * The dashboard's sign-in link: the token rides in the URL's fragment, which the browser never
 * sends to a server (so it stays out of access logs); the page moves it to sessionStorage and
 * strips it from the address bar.
 * @example signInLink("http://localhost:8787", token) // → "http://localhost:8787/admin/#token=eyJ…"
 */
export const signInLink = (base, token) => `${base}/admin/#token=${encodeURIComponent(token)}`;
