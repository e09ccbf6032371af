/**
 * The Hono environment: bindings come from `wrangler types` (worker-configuration.d.ts), never
 * declared by hand; variables are what middleware hands to handlers.
 */
import type { Context } from "hono";
import type { AdminClaims } from "./admin/auth";

export type AppEnv = { Bindings: Env; Variables: { admin: AdminClaims } };
export type AppContext = Context<AppEnv>;

/** Whether the local demo (the shop page at `/`) is served. */
export const demoEnabled = (env: Env) => String(env.DEMO) === "true";
