// The admin API refuses a token that lives longer than ADMIN_TOKEN_MAX_DAYS (30 in wrangler.toml).
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { call } from "./helpers";

const token = (exp: number) =>
  new SignJWT({ role: "admin", ws: "ws_token_life" }).setProtectedHeader({ alg: "HS256" }).setIssuer("cohort").setIssuedAt().setExpirationTime(exp).sign(new TextEncoder().encode(env.ADMIN_JWT_SECRET));

describe("admin token lifetime over HTTP", () => {
  it("answers 401 to a token expiring in the year 33658, 200 to one expiring in a day", async () => {
    const far = await call("/admin/api/sites", { headers: { Authorization: `Bearer ${await token(Date.UTC(33658, 0, 1) / 1000)}` } });
    expect(far.status).toBe(401);
    expect((await far.json<{ error: { code: string } }>()).error.code).toBe("invalid_token");
    const near = await call("/admin/api/sites", { headers: { Authorization: `Bearer ${await token(Math.floor(Date.now() / 1000) + 86_400)}` } });
    expect(near.status).toBe(200);
  });
});
