// The Profile API (GET /v1/profile): a site's server reads a visitor's traits, segments,
// predictions and consent with its secret key, and nothing else can.
import { beforeAll, describe, expect, it } from "vitest";
import { adminCall, browserPost, call, createSite, type TestSite } from "./helpers";

const WS = "ws_profile_api";
let site: TestSite;
let other: TestSite;
let segmentId: string;

const get = (key: string, query: string) => call(`/v1/profile?${query}`, { headers: { Authorization: `Basic ${btoa(`${key}:`)}` } });
const errorOf = async (res: Response) => (await res.json<{ error: { code: string; message: string; path?: string } }>()).error;

beforeAll(async () => {
  site = await createSite({}, WS);
  other = await createSite({}, "ws_profile_api_other");
  const segment = await adminCall("/admin/api/segments", { method: "POST", workspace: WS, body: JSON.stringify({ name: "Pro plan", rule: { trait: "plan", op: "eq", value: "pro" } }) });
  expect(segment.status).toBe(201);
  segmentId = (await segment.json<{ id: string }>()).id;
  const res = await call("/v1/batch", {
    method: "POST",
    headers: { Authorization: `Basic ${btoa(`${site.secretKey}:`)}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      batch: [
        { type: "identify", userId: "ada", traits: { plan: "pro", name: "Ada" }, context: { consent: { categoryPreferences: { Analytics: true, Personalization: true, Advertising: false } } } },
        { type: "track", anonymousId: "anon-7", event: "Product Viewed" },
      ],
    }),
  });
  expect(res.status).toBe(200);
});

describe("GET /v1/profile with the secret key", () => {
  it("answers the profile's traits, segments, predictions and consent", async () => {
    const res = await get(site.secretKey, "userId=ada");
    expect(res.status).toBe(200);
    expect(res.headers.get("Cache-Control")).toBe("no-store");
    expect(await res.json()).toEqual({
      profileKey: `${WS}:user:ada`,
      traits: { plan: "pro", name: "Ada" },
      segments: [segmentId],
      predictions: {},
      consent: {
        purposes: { necessary: true, analytics: true, personalization: true, advertising: false },
        sources: { analytics: "explicit", personalization: "explicit", advertising: "explicit" },
        policyVersion: "1",
      },
    });
  });

  it("finds a visitor by anonymousId", async () => {
    const res = await get(site.secretKey, "anonymousId=anon-7");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ profileKey: `${WS}:anon:anon-7`, traits: {}, segments: [] });
  });

  it("answers 404 for an id no profile has", async () => {
    const res = await get(site.secretKey, "userId=nobody");
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toEqual({ code: "profile_not_found", message: "No profile has userId nobody on this site's workspace.", path: "userId" });
  });

  it("needs exactly one of userId and anonymousId", async () => {
    for (const query of ["", "userId=ada&anonymousId=anon-7", "userId="]) {
      const res = await get(site.secretKey, query);
      expect(res.status, query).toBe(400);
      expect((await errorOf(res)).path, query).toBe("userId");
    }
  });
});

describe("who may read", () => {
  it("refuses the write key, even from the site's own origin", async () => {
    const res = await call("/v1/profile?userId=ada", { headers: { Authorization: `Basic ${btoa(`${site.writeKey}:`)}`, Origin: "https://shop.example" } });
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe("secret_key_required");
  });

  it("refuses a request without a key, and an unknown secret key", async () => {
    const none = await call("/v1/profile?userId=ada");
    expect(none.status).toBe(401);
    expect((await errorOf(none)).code).toBe("missing_secret_key");
    const unknown = await get("sk_not_a_key", "userId=ada");
    expect(unknown.status).toBe(401);
    expect((await errorOf(unknown)).code).toBe("invalid_write_key");
  });

  it("reads only the key's own workspace: another workspace's secret key finds no ada", async () => {
    const res = await get(other.secretKey, "userId=ada");
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("profile_not_found");
  });

  it("answers 404 once the profile was erased", async () => {
    const made = await browserPost(site, "/v1/batch", { batch: [{ type: "identify", userId: "grace", traits: { plan: "pro" } }] });
    expect(made.status).toBe(200);
    expect((await get(site.secretKey, "userId=grace")).status).toBe(200);
    const erased = await adminCall("/admin/api/privacy/erase", { method: "POST", workspace: WS, body: JSON.stringify({ userId: "grace" }) });
    expect(erased.status).toBe(200);
    const res = await get(site.secretKey, "userId=grace");
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe("profile_not_found");
  });
});
