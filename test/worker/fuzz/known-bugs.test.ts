// Hostile inputs that once answered 500 (found by endpoints.test.ts), pinned so they stay fixed.
import { describe, expect, it, vi } from "vitest";
import { call, createSite, lookup, type TestSite } from "../helpers";
import { nested } from "./arbitraries";

let site: TestSite;

async function post(path: string, text: string) {
  site ??= await createSite({}, "ws_fuzz_known");
  vi.spyOn(console, "error").mockImplementation(() => {});
  return call(path, { method: "POST", headers: { Authorization: `Basic ${btoa(`${site.secretKey}:`)}`, "Content-Type": "application/json" }, body: text });
}

/** < 500, and a 4xx carries the envelope. */
async function expectSafe(res: Response) {
  const text = await res.text();
  expect(res.status, text).toBeLessThan(500);
  if (res.status >= 400) expect(JSON.parse(text)).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
  return res.status;
}

describe("inputs that once answered 500", () => {
  // Deep nesting overflowed the Durable Object RPC's serializer; a clock-skew correction beyond
  // Date's range threw in toISOString; a `type` naming an Object.prototype member passed `in`.
  it.each([
    ["a single event nested 5,000 levels deep", "/v1/track", `{"userId":"u-deep","event":"Deep","properties":{"x":${nested(5000)}}}`],
    ["a batch event nested 5,000 levels deep", "/v1/batch", `{"batch":[{"type":"track","userId":"u-deep","event":"Deep","properties":{"x":${nested(5000)}}},{"type":"track","userId":"u-deep","event":"Fine"}]}`],
    ["a batch context nested 5,000 levels deep", "/v1/batch", `{"context":{"x":${nested(5000)}},"batch":[{"type":"track","userId":"u-deep","event":"Fine"}]}`],
    ["a clock-skew correction beyond Date's range", "/v1/track", `{"userId":"u-time","event":"E","timestamp":"${"-271821-04-20T00:00:00.000Z"}","sentAt":"${"+275760-09-13T00:00:00.000Z"}"}`],
    ["a batch event of type constructor", "/v1/batch", `{"batch":[{"type":"constructor","userId":"u-type","event":"E"},{"type":"track","userId":"u-type","event":"Fine"}]}`],
    ["a batch event of type toString", "/v1/batch", `{"batch":[{"type":"toString","userId":"u-type","event":"E"}]}`],
  ])("%s is a 2xx or a 4xx, never a 5xx", async (_what, path, text) => {
    await expectSafe(await post(path, text));
  });

  it("keeps the good events of a batch that also holds a pathologically nested one", async () => {
    const text = `{"batch":[{"type":"track","userId":"u-deep-mix","messageId":"deep-bad","event":"Deep","properties":{"x":${nested(5000)}}},{"type":"track","userId":"u-deep-mix","messageId":"deep-good","event":"Fine"}]}`;
    expect(await expectSafe(await post("/v1/batch", text))).toBe(200);
  });
});

describe("odd but valid data", () => {
  it("keeps a trait named __proto__ as data, without touching prototypes", async () => {
    const res = await post("/v1/identify", `{"userId":"u-proto","traits":{"__proto__":{"admin":true},"plan":"pro"}}`);
    expect(res.status).toBe(200);
    const profile = await (await lookup("userId=u-proto", "ws_fuzz_known")).json<{ traits: Record<string, unknown> }>();
    expect(Object.getPrototypeOf(profile.traits)).toBe(Object.prototype);
    expect(Object.hasOwn(profile.traits, "__proto__")).toBe(true);
    expect(profile.traits.plan).toBe("pro");
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it("refuses an id that is not valid Unicode text", async () => {
    const res = await post("/v1/track", `{"userId":"a\\ud800b","event":"E"}`);
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { path: string } }>()).error.path).toBe("userId");
  });
});
