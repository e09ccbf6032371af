// Request bodies sent with Content-Encoding: gzip or deflate (what RudderStack's and Segment's server
// SDKs may send): decompressed as they stream in, the size limits applied to the decompressed bytes.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createSite, drainQueue, lookup, SITE_ORIGIN, type TestSite } from "./helpers";

let site: TestSite;
beforeAll(async () => {
  site = await createSite();
});

/** `data` compressed by the runtime's own CompressionStream. */
async function compress(data: Uint8Array | string, format: "gzip" | "deflate" = "gzip"): Promise<Uint8Array> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream(format))).arrayBuffer());
}

/** `megabytes` MB of zeros, gzipped (about a thousandth of the size), without holding them all. */
async function zeros(megabytes: number): Promise<Uint8Array> {
  const block = new Uint8Array(1024 * 1024);
  let left = megabytes;
  const source = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left-- > 0) controller.enqueue(block);
      else controller.close();
    },
  });
  return new Uint8Array(await new Response(source.pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
}

function post(path: string, body: BodyInit, encoding: string, headers: Record<string, string> = {}) {
  return call(path, {
    method: "POST",
    headers: { Authorization: `Basic ${btoa(`${site.secretKey}:`)}`, "Content-Type": "application/json", "Content-Encoding": encoding, ...headers },
    body,
  });
}

const failed = (code: string) =>
  env.DB.prepare("SELECT code, payload FROM failed_events WHERE site_id = ? AND code = ?").bind(site.id, code).all<{ code: string; payload: string | null }>().then((r) => r.results);

describe("a compressed body", () => {
  it("is accepted gzipped on /v1/batch, and its events land on the profile", async () => {
    const body = JSON.stringify({
      batch: [
        { type: "identify", userId: "u-gzip", traits: { plan: "pro" } },
        { type: "track", userId: "u-gzip", event: "Order Completed", properties: { total: 42 } },
      ],
    });
    const res = await post("/v1/batch", await compress(body), "gzip");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, accepted: 2, rejected: [] });
    const profile = await (await lookup("userId=u-gzip")).json<{ traits: Record<string, unknown>; counters: Record<string, number> }>();
    expect(profile.traits).toEqual({ plan: "pro" });
    expect(profile.counters["event:Order Completed"]).toBe(1);
  });

  it("is accepted deflated on a single-event endpoint, and as x-gzip", async () => {
    const deflated = await post("/v1/track", await compress(JSON.stringify({ userId: "u-deflate", event: "Signed Up" }), "deflate"), "deflate");
    expect(deflated.status).toBe(200);
    const xgzip = await post("/v1/t", await compress(JSON.stringify({ userId: "u-deflate", event: "Signed Up" })), "x-gzip");
    expect(xgzip.status).toBe(200);
    const profile = await (await lookup("userId=u-deflate")).json<{ counters: Record<string, number> }>();
    expect(profile.counters["event:Signed Up"]).toBe(2);
  });

  it("is accepted on /v1/decide and /v1/consent", async () => {
    const decide = await post("/v1/decide", await compress(JSON.stringify({ slots: ["hero"], userId: "u-gzip" })), "gzip");
    expect(decide.status).toBe(200);
    expect(await decide.json()).toEqual({ decisions: {} });
    const consent = await call("/v1/consent", {
      method: "POST",
      cf: { country: "US" },
      headers: { Origin: SITE_ORIGIN, "Content-Type": "text/plain", "Content-Encoding": "gzip", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36" },
      body: await compress(JSON.stringify({ writeKey: site.writeKey, purposes: { analytics: true, personalization: false } })),
    });
    expect(consent.status).toBe(200);
    expect((await consent.json<{ consent: { purposes: Record<string, boolean> } }>()).consent.purposes).toMatchObject({ analytics: true, personalization: false });
  });
});

describe("the size limits apply to the decompressed body", () => {
  it("refuses an event that is small gzipped but over 32 KB inflated, with 413", async () => {
    const body = JSON.stringify({ userId: "u-big", event: "E", properties: { pad: "x".repeat(40 * 1024) } });
    const gzipped = await compress(body);
    expect(gzipped.byteLength).toBeLessThan(1024);
    const res = await post("/v1/track", gzipped, "gzip");
    expect(res.status).toBe(413);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("payload_too_large");
  });

  it("refuses a gzip bomb (200 MB of zeros in 200 KB) with the same 413, and records its head", async () => {
    const bomb = await zeros(200);
    expect(bomb.byteLength).toBeLessThan(500 * 1024);
    const res = await post("/v1/batch", bomb, "gzip");
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { code: "payload_too_large", message: "The body is larger than 512000 bytes." } });
    await drainQueue();
    const row = (await failed("payload_too_large")).find((r) => r.payload?.startsWith("\0"));
    // What is kept is the head of what it inflated to (zeros), bounded like any refused body's.
    expect(row!.payload!.length).toBeGreaterThan(0);
    expect(row!.payload!.length).toBeLessThanOrEqual(32 * 1024);
    expect(row!.payload).toMatch(/^\0+$/);
  });
});

describe("a body that does not decode", () => {
  it("is refused with 400 invalid_encoding when it is not gzip at all, and recorded", async () => {
    const res = await post("/v1/batch", JSON.stringify({ batch: [{ type: "track", userId: "u", event: "E" }] }), "gzip");
    expect(res.status).toBe(400);
    const body = await res.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe("invalid_encoding");
    expect(body.error.message).toContain("not valid gzip");
    await drainQueue();
    expect((await failed("invalid_encoding")).length).toBeGreaterThan(0);
  });

  it("is refused with 400 invalid_encoding when the gzip stream is cut short", async () => {
    const whole = await compress(JSON.stringify({ batch: [{ type: "track", userId: "u-cut", event: "E", properties: { note: "a".repeat(2000) } }] }));
    const res = await post("/v1/batch", whole.subarray(0, whole.byteLength - 12), "gzip");
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("invalid_encoding");
    expect((await lookup("userId=u-cut")).status).toBe(404);
  });

  it("is refused with 415 for an encoding Cohort does not decode", async () => {
    const res = await post("/v1/track", "whatever", "br");
    expect(res.status).toBe(415);
    expect((await res.json<{ error: { code: string } }>()).error.code).toBe("unsupported_encoding");
  });
});
