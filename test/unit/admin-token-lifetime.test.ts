// `npm run token`'s default lifetime stays inside the admin token maximum that wrangler.toml
// configures (ADMIN_TOKEN_MAX_DAYS): a token it prints is never refused for living too long.
import { readFileSync } from "node:fs";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { signAdminToken } from "../../scripts/lib/token.mjs";

const maxDays = Number(/^ADMIN_TOKEN_MAX_DAYS\s*=\s*"(\d+)"/m.exec(readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8"))?.[1]);

describe("npm run token", () => {
  it("signs tokens that expire within ADMIN_TOKEN_MAX_DAYS", async () => {
    expect(maxDays).toBe(30);
    const { exp, iat } = decodeJwt(await signAdminToken("a-test-admin-secret"));
    expect(exp! - iat!).toBeLessThanOrEqual(maxDays * 86_400);
  });
});
