/**
 * Admin API authentication: a bearer JWT signed HS256 with ADMIN_JWT_SECRET (`npm run token`),
 * carrying a role and the workspace it is scoped to. Roles are ordered: a route that needs
 * `editor` also admits `admin`.
 */
import type { MiddlewareHandler } from "hono";
import { jwtVerify } from "jose";
import { z } from "zod";
import { ROLES, type AdminClaims, type AppEnv, type Role } from "../env";
import { ApiError } from "../http/errors";

export { ROLES, type AdminClaims, type Role };

const claimsSchema = z.object({
  role: z.enum(ROLES),
  ws: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/),
  sub: z.string().optional(),
}) satisfies z.ZodType<AdminClaims>;

const secrets = new Map<string, Uint8Array>();
const key = (secret: string) => {
  let bytes = secrets.get(secret);
  if (!bytes) secrets.set(secret, (bytes = new TextEncoder().encode(secret)));
  return bytes;
};

/** The longest an admin token may still have to live, unless `ADMIN_TOKEN_MAX_DAYS` says otherwise. */
export const DEFAULT_MAX_TOKEN_DAYS = 30;
/** Clock skew allowed between the machine that signed a token and the Worker. */
const SKEW_SECONDS = 300;

/** `ADMIN_TOKEN_MAX_DAYS` as a number of days: a positive number, else the default. */
export function maxTokenDays(value: string | undefined): number {
  const days = Number(value);
  return value && Number.isFinite(days) && days > 0 ? days : DEFAULT_MAX_TOKEN_DAYS;
}

/**
 * The claims of a valid token. Besides the signature, issuer and expiry, a token whose `exp` is
 * more than `maxDays` (default 30) ahead is refused: a leaked long-lived token (or one minted with
 * `exp` in the year 33658) would otherwise stay valid for good.
 */
export async function verifyAdminToken(token: string, secret: string, options: { maxDays?: number; now?: number } = {}): Promise<AdminClaims> {
  let payload: { exp?: number };
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  try {
    ({ payload } = await jwtVerify(token, key(secret), { algorithms: ["HS256"], issuer: "cohort", requiredClaims: ["exp"], currentDate: new Date(now * 1000) }));
  } catch (error) {
    throw new ApiError(401, "invalid_token", `The bearer token was refused: ${(error as Error).message}`, { cause: error });
  }
  const maxDays = options.maxDays ?? DEFAULT_MAX_TOKEN_DAYS;
  if (payload.exp! - now > maxDays * 86_400 + SKEW_SECONDS) {
    throw new ApiError(401, "invalid_token", `The bearer token was refused: it expires more than ${maxDays} days from now (ADMIN_TOKEN_MAX_DAYS); sign a shorter-lived one (npm run token).`);
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) throw new ApiError(401, "invalid_token", "The token needs a role (admin, editor, viewer) and a workspace (ws).");
  return claims.data;
}

/** Authenticates the request and puts its claims on the context. */
export const adminAuth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("Authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw new ApiError(401, "missing_token", "Send an admin token as `Authorization: Bearer <token>` (npm run token).");
  c.set("admin", await verifyAdminToken(match[1]!, c.env.ADMIN_JWT_SECRET, { maxDays: maxTokenDays(c.env.ADMIN_TOKEN_MAX_DAYS) }));
  await next();
};

/** Admits tokens whose role is at least `role`. */
export const requireRole =
  (role: Role): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    const have = c.get("admin").role;
    if (ROLES.indexOf(have) < ROLES.indexOf(role)) {
      throw new ApiError(403, "forbidden", `This needs the ${role} role; the token has ${have}.`);
    }
    await next();
  };
