// Signed visitor ids: verification, forgery, and secret rotation (workspace binding: cookie-workspace.test.ts).
import { describe, expect, it } from "vitest";
import { newVisitorId, signVisitorId, verifyVisitorCookie, visitorCookieHeader } from "../../worker/identity/cookie";

const SECRET = "a-secret-of-enough-length";
const WS = "ws_cookie";

describe("visitor cookie", () => {
  it("verifies what it signed", async () => {
    const id = newVisitorId();
    expect(await verifyVisitorCookie(await signVisitorId(id, SECRET, WS), SECRET, WS)).toBe(id);
  });

  it.each([
    ["a changed id", (v: string) => `B${v.slice(1)}`],
    ["a changed signature", (v: string) => v.slice(0, -2) + (v.endsWith("AA") ? "BB" : "AA")],
    ["an unknown key id", (v: string) => v.replace(".0.", ".9.")],
    ["garbage", () => "not-a-cookie"],
  ])("refuses %s", async (_name, tamper) => {
    const value = await signVisitorId(newVisitorId(), SECRET, WS);
    expect(await verifyVisitorCookie(tamper(value), SECRET, WS)).toBeUndefined();
  });

  it("refuses a cookie signed with another secret", async () => {
    const value = await signVisitorId(newVisitorId(), "another-secret-entirely!", WS);
    expect(await verifyVisitorCookie(value, SECRET, WS)).toBeUndefined();
  });

  it("rotates: the new key signs, the old key still verifies", async () => {
    const id = newVisitorId();
    const old = await signVisitorId(id, `k1:${SECRET}`, WS);
    const rotated = `k2:another-secret-entirely!,k1:${SECRET}`;
    expect(await verifyVisitorCookie(old, rotated, WS)).toBe(id);
    expect(await signVisitorId(id, rotated, WS)).toMatch(new RegExp(`^${id}\\.k2\\.`));
  });

  it("leaves Secure off only for plain-http localhost", () => {
    expect(visitorCookieHeader("v", { secure: false })).toBe("cohort_id=v; Max-Age=34560000; Path=/; HttpOnly; SameSite=Lax");
    expect(visitorCookieHeader("v", { secure: true, domain: "example.com" })).toContain("; Secure; Domain=example.com");
  });
});
