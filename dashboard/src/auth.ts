/**
 * Sign-in: admin tokens kept in sessionStorage (gone when the tab closes), one per workspace, so
 * an operator with tokens for several workspaces can switch between them. A token arrives pasted,
 * or in the sign-in link's fragment (`/admin/#token=…`, which never reaches a server or its logs);
 * the fragment is moved to storage and removed from the address bar at once.
 */
export type Role = "viewer" | "editor" | "admin";
export interface Claims {
  role: Role;
  ws: string;
  sub?: string;
  exp?: number;
}
export interface Session extends Claims {
  token: string;
}

const TOKENS = "cohort.tokens";
const CURRENT = "cohort.workspace";
const ROLES: Role[] = ["viewer", "editor", "admin"];

/** The claims a token carries, read without checking its signature (the API checks it). */
export function claimsOf(token: string): Claims | null {
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const json = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="))) as Partial<Claims>;
    if (!json.ws || !ROLES.includes(json.role as Role)) return null;
    return { role: json.role as Role, ws: json.ws, sub: json.sub, exp: json.exp };
  } catch {
    return null;
  }
}

/** Whether `role` is at least `needed` (an admin may do what an editor may). */
export const may = (role: Role, needed: Role) => ROLES.indexOf(role) >= ROLES.indexOf(needed);

function stored(): Record<string, string> {
  try {
    return JSON.parse(sessionStorage.getItem(TOKENS) ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
}

/** Every workspace signed in to in this tab, with the claims of its token. */
export function sessions(): Session[] {
  const now = Date.now() / 1000;
  return Object.values(stored()).flatMap((token) => {
    const claims = claimsOf(token);
    return claims && (!claims.exp || claims.exp > now) ? [{ ...claims, token }] : [];
  });
}

export function currentSession(): Session | null {
  const all = sessions();
  return all.find((s) => s.ws === sessionStorage.getItem(CURRENT)) ?? all[0] ?? null;
}

/** Keeps a token (replacing the workspace's previous one) and makes its workspace current. */
export function addToken(token: string): Claims {
  const claims = claimsOf(token.trim());
  if (!claims) throw new Error("This is not a Cohort admin token: it needs a role and a workspace (npm run token).");
  if (claims.exp && claims.exp < Date.now() / 1000) throw new Error("This token has expired: sign a new one (npm run token).");
  sessionStorage.setItem(TOKENS, JSON.stringify({ ...stored(), [claims.ws]: token.trim() }));
  sessionStorage.setItem(CURRENT, claims.ws);
  return claims;
}

export function switchWorkspace(ws: string) {
  sessionStorage.setItem(CURRENT, ws);
}

export function signOut(ws: string) {
  const all = stored();
  delete all[ws];
  sessionStorage.setItem(TOKENS, JSON.stringify(all));
  sessionStorage.removeItem(CURRENT);
}

/** Moves `#token=…` from the address bar into storage; returns an error to show, if any. */
export function takeTokenFromUrl(): string | null {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (!match) return null;
  history.replaceState(null, "", `${location.pathname}${location.search}#/`);
  try {
    addToken(decodeURIComponent(match[1]!));
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}
