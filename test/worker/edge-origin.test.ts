// The edge route fetches only EDGE_ORIGIN (issue 10, attack 4): whatever the path or the request
// target, the one host contacted is the origin; it receives an allow-list of headers (the site's
// cookies, not Cohort's; no hop-by-hop header) and no redirect is followed. The origin is a fake:
// the Worker's outbound `fetch` is replaced and every URL it is asked for is recorded.
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../../worker/http/app";

const ORIGIN = "https://origin.shop.test";
const PUBLIC = "https://shop.example";
const edgeEnv = { ...env, EDGE_ORIGIN: ORIGIN } as Env;

interface Contact {
  url: string;
  method: string;
  headers: Headers;
  redirect?: RequestInit["redirect"];
  body?: string;
}
let contacted: Contact[];
let answer: () => Response;

beforeEach(() => {
  contacted = [];
  answer = () => new Response("from the origin", { headers: { "content-type": "text/plain" } });
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    contacted.push({ url: request.url, method: request.method, headers: request.headers, redirect: init?.redirect, body: request.body ? new TextDecoder().decode(await request.arrayBuffer()) : undefined });
    return answer();
  });
});
afterEach(() => vi.restoreAllMocks());

async function edge(target: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(target, init), edgeEnv, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("the edge route's target", () => {
  it.each([
    ["a protocol-relative path", `${PUBLIC}//evil.example/login`, "//evil.example/login"],
    ["three slashes", `${PUBLIC}///evil.example/login`, "///evil.example/login"],
    ["a backslash", `${PUBLIC}/\\evil.example/login`, "//evil.example/login"],
    ["two backslashes", `${PUBLIC}/\\\\evil.example/login`, "///evil.example/login"],
    ["percent-encoded slashes", `${PUBLIC}/%2F%2Fevil.example/login`, "/%2F%2Fevil.example/login"],
    ["a percent-encoded backslash", `${PUBLIC}/%5Cevil.example/login`, "/%5Cevil.example/login"],
    ["a dot segment before the slashes", `${PUBLIC}/x/..//evil.example/login`, "//evil.example/login"],
    ["an absolute-form request target", "http://evil.example/login", "/login"],
    ["an absolute-form target with userinfo and port", "https://user:pw@evil.example:8443/login", "/login"],
    ["a URL in the query", `${PUBLIC}/redirect?to=https://evil.example/`, "/redirect"],
  ])("%s reaches only the origin", async (_, target, path) => {
    const res = await edge(target);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("from the origin");
    expect(contacted).toHaveLength(1);
    const url = new URL(contacted[0]!.url);
    expect(url.origin).toBe(ORIGIN);
    expect(url.pathname).toBe(path);
  });

  it("keeps the query on the origin's URL", async () => {
    await edge(`${PUBLIC}/search?q=shoes&to=//evil.example`);
    expect(contacted.map((c) => c.url)).toEqual([`${ORIGIN}/search?q=shoes&to=//evil.example`]);
  });

  it("sends a form's body to the origin, not to a host in its path", async () => {
    const res = await edge(`${PUBLIC}//evil.example/form`, { method: "POST", body: "a=1", headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(res.status).toBe(200);
    expect(contacted).toHaveLength(1);
    expect(new URL(contacted[0]!.url).origin).toBe(ORIGIN);
    expect(contacted[0]).toMatchObject({ method: "POST", body: "a=1" });
  });

  it("follows no redirect: a 302 to another host goes back to the browser, the host is not contacted", async () => {
    answer = () => new Response(null, { status: 302, headers: { location: "https://evil.example/phish" } });
    const res = await edge(`${PUBLIC}/account`);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://evil.example/phish");
    expect(contacted.map((c) => new URL(c.url).origin)).toEqual([ORIGIN]);
    expect(contacted[0]!.redirect).toBe("manual");
  });
});

describe("the edge route's headers", () => {
  it("forwards the allow-list and the site's cookies, never Cohort's cookies or hop-by-hop headers", async () => {
    await edge(`${PUBLIC}/cart`, {
      headers: {
        cookie: "session=s1; cohort_id=abc.0.sig; cart=c2; cohort_consent=1700000000.111",
        "accept-language": "de",
        "user-agent": "Browser/1",
        "if-none-match": '"v1"',
        connection: "keep-alive, accept-language, x-secret",
        "keep-alive": "timeout=5",
        "proxy-authorization": "Basic eDp5",
        upgrade: "websocket",
        te: "trailers",
        "x-secret": "internal",
        "x-forwarded-host": "evil.example",
        "cf-connecting-ip": "203.0.113.7",
      },
    });
    expect(contacted).toHaveLength(1);
    const sent = Object.fromEntries(contacted[0]!.headers);
    expect(sent).toEqual({
      cookie: "session=s1; cart=c2",
      "user-agent": "Browser/1",
      "if-none-match": '"v1"',
      "x-forwarded-for": "203.0.113.7",
      "x-forwarded-host": "shop.example",
      "x-forwarded-proto": "https",
    });
  });

  it("sends no cookie header when the visitor has only Cohort's cookies", async () => {
    await edge(`${PUBLIC}/`, { headers: { cookie: "cohort_id=abc.0.sig; cohort_consent=1700000000.111" } });
    expect(contacted[0]!.headers.has("cookie")).toBe(false);
  });
});
