// Admin tokens have a maximum lifetime (issue 10): an `exp` more than ADMIN_TOKEN_MAX_DAYS (30 in
// wrangler.toml) ahead is refused, over HTTP and in `verifyAdminToken`; longer when configured.
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_TOKEN_DAYS, maxTokenDays, verifyAdminToken } from "../../worker/admin/auth";
import { call } from "./helpers";

const SECRET = "a-test-admin-secret";
const NOW = Date.UTC(2026, 11, 2);
const DAY = 86_400;

const sign = (exp: number, secret = SECRET, iat = NOW / 1000) =>
  new SignJWT({ role: "admin", ws: "ws_token_life" }).setProtectedHeader({ alg: "HS256" }).setIssuer("cohort").setIssuedAt(iat).setExpirationTime(exp).sign(new TextEncoder().encode(secret));

describe("admin token lifetime", () => {
  it.each([
    ["30 days ahead", NOW / 1000 + 30 * DAY, true],
    ["31 days ahead", NOW / 1000 + 31 * DAY, false],
    ["in the year 33658", Date.UTC(33658, 0, 1) / 1000, false],
  ])("with the default maximum, an exp %s is accepted: %s", async (_, exp, accepted) => {
    const verified = verifyAdminToken(await sign(exp), SECRET, { now: NOW });
    if (accepted) await expect(verified).resolves.toMatchObject({ role: "admin" });
    else await expect(verified).rejects.toMatchObject({ status: 401, code: "invalid_token", message: expect.stringContaining("more than 30 days") });
  });

  it("admits longer tokens when ADMIN_TOKEN_MAX_DAYS says so", async () => {
    const token = await sign(NOW / 1000 + 90 * DAY);
    await expect(verifyAdminToken(token, SECRET, { now: NOW, maxDays: maxTokenDays("365") })).resolves.toMatchObject({ role: "admin" });
    await expect(verifyAdminToken(token, SECRET, { now: NOW, maxDays: maxTokenDays("") })).rejects.toMatchObject({ status: 401 });
  });

  it.each([["", DEFAULT_MAX_TOKEN_DAYS], ["abc", DEFAULT_MAX_TOKEN_DAYS], ["-1", DEFAULT_MAX_TOKEN_DAYS], ["0", DEFAULT_MAX_TOKEN_DAYS], ["7", 7], ["400", 400]])(
    "reads ADMIN_TOKEN_MAX_DAYS=%j as %d days",
    (value, days) => {
      expect(maxTokenDays(value)).toBe(days);
    },
  );

  it("over HTTP: 401 to a token expiring in the year 33658, 200 to one expiring in a day", async () => {
    const now = Math.floor(Date.now() / 1000);
    const far = await call("/admin/api/sites", { headers: { Authorization: `Bearer ${await sign(Date.UTC(33658, 0, 1) / 1000, env.ADMIN_JWT_SECRET, now)}` } });
    expect(far.status).toBe(401);
    expect((await far.json<{ error: { code: string } }>()).error.code).toBe("invalid_token");
    const near = await call("/admin/api/sites", { headers: { Authorization: `Bearer ${await sign(now + DAY, env.ADMIN_JWT_SECRET, now)}` } });
    expect(near.status).toBe(200);
  });
});
