// Admin tokens have a maximum lifetime (issue 10): an `exp` more than ADMIN_TOKEN_MAX_DAYS (30 by
// default) ahead is refused, and `npm run token`'s default lifetime stays inside it.
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { signAdminToken } from "../../scripts/lib/token.mjs";
import { DEFAULT_MAX_TOKEN_DAYS, maxTokenDays, verifyAdminToken } from "../../worker/admin/auth";

const SECRET = "a-test-admin-secret";
const NOW = Date.UTC(2026, 11, 2);
const DAY = 86_400;

const tokenExpiringAt = (exp: number) =>
  new SignJWT({ role: "admin", ws: "ws_1" }).setProtectedHeader({ alg: "HS256" }).setIssuer("cohort").setIssuedAt(NOW / 1000).setExpirationTime(exp).sign(new TextEncoder().encode(SECRET));

describe("admin token lifetime", () => {
  it("accepts a token of npm run token's default lifetime", async () => {
    const token = await signAdminToken(SECRET, { role: "editor", workspace: "ws_1" });
    await expect(verifyAdminToken(token, SECRET)).resolves.toMatchObject({ role: "editor", ws: "ws_1" });
  });

  it.each([
    ["30 days ahead", NOW / 1000 + 30 * DAY, true],
    ["31 days ahead", NOW / 1000 + 31 * DAY, false],
    ["in the year 33658", Date.UTC(33658, 0, 1) / 1000, false],
  ])("with the default maximum, an exp %s is accepted: %s", async (_, exp, accepted) => {
    const verified = verifyAdminToken(await tokenExpiringAt(exp), SECRET, { now: NOW });
    if (accepted) await expect(verified).resolves.toMatchObject({ role: "admin" });
    else await expect(verified).rejects.toMatchObject({ status: 401, code: "invalid_token", message: expect.stringContaining("more than 30 days") });
  });

  it("admits longer tokens when ADMIN_TOKEN_MAX_DAYS says so", async () => {
    const token = await tokenExpiringAt(NOW / 1000 + 90 * DAY);
    await expect(verifyAdminToken(token, SECRET, { now: NOW, maxDays: maxTokenDays("365") })).resolves.toMatchObject({ role: "admin" });
    await expect(verifyAdminToken(token, SECRET, { now: NOW, maxDays: maxTokenDays("") })).rejects.toMatchObject({ status: 401 });
  });

  it.each([["", DEFAULT_MAX_TOKEN_DAYS], ["abc", DEFAULT_MAX_TOKEN_DAYS], ["-1", DEFAULT_MAX_TOKEN_DAYS], ["0", DEFAULT_MAX_TOKEN_DAYS], ["7", 7], ["400", 400]])(
    "reads ADMIN_TOKEN_MAX_DAYS=%j as %d days",
    (value, days) => {
      expect(maxTokenDays(value)).toBe(days);
    },
  );
});
