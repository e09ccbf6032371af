// Through a real `wrangler dev` (its proxy in front of the Worker): a body far past the limit is
// answered 413 with the envelope — not a reset connection or a 500 — with a declared length or
// chunked, on every route.
import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { e2e } from "./helpers";

const MB = 1024 * 1024;

/** POSTs `bytes` bytes in 64 KB writes (chunked when `chunked`), and reads the answer. */
function post(path: string, bytes: number, chunked: boolean, auth: string): Promise<{ status: number; body: string }> {
  const url = new URL(path, e2e().url);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: "POST",
      headers: { Authorization: auth, "Content-Type": "application/json", ...(chunked ? {} : { "Content-Length": String(bytes) }) },
    });
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    const chunk = Buffer.alloc(64 * 1024, "x");
    let sent = 0;
    const write = () => {
      while (sent < bytes) {
        const part = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
        sent += part.length;
        if (!req.write(part)) return void req.once("drain", write);
      }
      req.end();
    };
    write();
  });
}

describe("oversize bodies through wrangler dev", () => {
  for (const chunked of [false, true]) {
    for (const path of ["/v1/track", "/v1/t", "/v1/batch", "/v1/consent", "/admin/api/privacy/erase"]) {
      it(`20 MB to ${path}${chunked ? " (chunked)" : ""} → 413`, async () => {
        const { secretKey, adminToken } = e2e();
        const auth = path.startsWith("/admin") ? `Bearer ${adminToken}` : `Basic ${Buffer.from(`${secretKey}:`).toString("base64")}`;
        const res = await post(path, 20 * MB, chunked, auth);
        expect(res.status).toBe(413);
        expect(JSON.parse(res.body)).toEqual({ error: { code: "payload_too_large", message: expect.any(String) } });
      });
    }
  }
});

describe("compressed bodies through wrangler dev", () => {
  it("a gzip bomb (1 GB of zeros in about 1 MB) to /v1/batch → the same 413, in one piece", async () => {
    const { url, secretKey } = e2e();
    const { gzipSync } = await import("node:zlib");
    // 1 GB of zeros as 16 gzip members of 64 MB each (RFC 1952 lets members follow one another);
    // the first alone inflates far past the limit.
    const member = gzipSync(Buffer.alloc(64 * MB), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 16 }, () => member));
    const res = await fetch(`${url}/v1/batch`, {
      method: "POST",
      headers: { Authorization: `Basic ${Buffer.from(`${secretKey}:`).toString("base64")}`, "Content-Type": "application/json", "Content-Encoding": "gzip" },
      body: bomb,
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { code: "payload_too_large", message: "The body is larger than 512000 bytes." } });
  });
});
