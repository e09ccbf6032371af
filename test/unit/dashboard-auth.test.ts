// What the dashboard reads from a token before it offers anything (dashboard/src/auth.ts): the
// role and workspace of a real `npm run token` token, nothing from a paste that is not one, and
// which role may do what.
import { describe, expect, it } from "vitest";
import { claimsOf, may } from "../../dashboard/src/auth";
import { signAdminToken } from "../../scripts/lib/token.mjs";

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("claimsOf", () => {
  it("reads the role and workspace of a token signed as npm run token signs it", async () => {
    const token = await signAdminToken("a-secret", { role: "editor", workspace: "shop-eu" });
    expect(claimsOf(token)).toMatchObject({ role: "editor", ws: "shop-eu", sub: "cli" });
    expect(claimsOf(token)!.exp).toBeGreaterThan(Date.now() / 1000);
  });

  it.each([
    ["not a token", "hello"],
    ["a payload that is not JSON", `e30.${Buffer.from("{nope").toString("base64url")}.sig`],
    ["no workspace", `e30.${part({ role: "admin" })}.sig`],
    ["an unknown role", `e30.${part({ role: "owner", ws: "demo" })}.sig`],
    ["an empty paste", ""],
  ])("has no claims for %s", (_what, token) => {
    expect(claimsOf(token)).toBeNull();
  });
});

describe("may", () => {
  it.each([
    ["viewer", "viewer", true],
    ["viewer", "editor", false],
    ["editor", "editor", true],
    ["editor", "admin", false],
    ["admin", "editor", true],
    ["admin", "admin", true],
  ] as const)("%s may do what needs %s: %s", (role, needed, allowed) => {
    expect(may(role, needed)).toBe(allowed);
  });
});
