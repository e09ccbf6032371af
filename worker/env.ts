/**
 * The Hono environment: bindings come from `wrangler types` (worker-configuration.d.ts), never
 * declared by hand; variables are what middleware hands to handlers. This module sits at the
 * bottom of the import graph: it imports no other module of the Worker.
 */
import type { Context } from "hono";

/** Admin roles, weakest first: a route that needs `editor` also admits `admin`. */
export const ROLES = ["viewer", "editor", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** What a verified admin token says (worker/admin/auth.ts checks it). */
export interface AdminClaims {
  role: Role;
  /** The workspace the token is scoped to. */
  ws: string;
  sub?: string;
}

export type AppEnv = { Bindings: Env; Variables: { admin: AdminClaims } };
export type AppContext = Context<AppEnv>;

/** Whether the local demo (the shop page at `/`) is served. */
export const demoEnabled = (env: Env) => String(env.DEMO) === "true";
