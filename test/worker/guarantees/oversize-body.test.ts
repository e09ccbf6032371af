// Every oversize body gets 413 with the error envelope, whatever its route or transfer encoding.
import { describe, expect, it } from "vitest";
import { adminCall, call, createSite } from "../helpers";

const MB = 1024 * 1024;

/** A body of `bytes` JSON-ish bytes, with a declared length or streamed in chunks (no length). */
function body(bytes: number, streamed: boolean): BodyInit {
  const chunk = new TextEncoder().encode(`{"event":"${"x".repeat(64 * 1024 - 20)}",`);
  if (!streamed) {
    const whole = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i += chunk.byteLength) whole.set(chunk.subarray(0, Math.min(chunk.byteLength, bytes - i)), i);
    return whole;
  }
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      const part = chunk.subarray(0, Math.min(chunk.byteLength, bytes - sent));
      sent += part.byteLength;
      controller.enqueue(part);
    },
  });
}

describe("oversize bodies", () => {
  for (const streamed of [false, true]) {
    for (const path of ["/v1/track", "/v1/t", "/v1/identify", "/v1/batch", "/v1/consent", "/v1/decide"]) {
      it(`20 MB to ${path} (${streamed ? "streamed, no length" : "with Content-Length"}) → 413`, async () => {
        const site = await createSite({}, "ws_oversize");
        const res = await call(path, {
          method: "POST",
          headers: { Authorization: `Basic ${btoa(`${site.secretKey}:`)}`, "Content-Type": "application/json" },
          body: body(20 * MB, streamed),
          ...(streamed ? { duplex: "half" } : {}),
        } as RequestInit);
        expect(res.status).toBe(413);
        expect(await res.json()).toEqual({ error: { code: "payload_too_large", message: expect.any(String) } });
      });
    }
    it(`20 MB to an admin route (${streamed ? "streamed" : "with Content-Length"}) → 413`, async () => {
      const res = await adminCall("/admin/api/privacy/erase", { method: "POST", body: body(20 * MB, streamed), ...(streamed ? { duplex: "half" } : {}) } as RequestInit);
      expect(res.status).toBe(413);
      expect(await res.json()).toEqual({ error: { code: "payload_too_large", message: expect.any(String) } });
    });
  }
});
