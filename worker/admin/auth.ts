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

export async function verifyAdminToken(token: string, secret: string): Promise<AdminClaims> {
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, key(secret), { algorithms: ["HS256"], issuer: "cohort", requiredClaims: ["exp"] }));
  } catch (error) {
    throw new ApiError(401, "invalid_token", `The bearer token was refused: ${(error as Error).message}`, { cause: error });
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
  c.set("admin", await verifyAdminToken(match[1]!, c.env.ADMIN_JWT_SECRET));
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
