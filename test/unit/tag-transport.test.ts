// The tag's transport: batching, one request in flight, retry with backoff, permanent drops,
// the bounded queue and the beacon on page exit. Node with fetch/sendBeacon stubbed, fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { WireBatch, WireEvent } from "../../worker/collect/wire";

type Transport = typeof import("../../tag/src/transport");
let transport: Transport;
let requests: { url: string; init: RequestInit; body: WireBatch; settle: (status: number | Error) => void }[];
let beacons: { url: string; body: WireBatch }[];
let beaconAnswer: boolean;

const ev = (n: number, properties: Record<string, unknown> = {}): WireEvent => ({
  type: "track",
  event: "e" + n,
  properties,
  messageId: "m" + n,
  timestamp: new Date(0).toISOString(),
  context: { page: { url: "", path: "", title: "", referrer: "", search: "" }, library: { name: "cohort-tag", version: "t" } },
});
/** The i-th request (or beacon) made so far; fails the test when there is none. */
const req = (i: number) => requests[i] ?? expect.unreachable(`no request #${i}`);
const beacon = (i: number) => beacons[i] ?? expect.unreachable(`no beacon #${i}`);
const names = (body: WireBatch) => body.batch.map((e) => (e.type == "track" ? e.event : e.type));

beforeEach(async () => {
  vi.useFakeTimers();
  vi.resetModules();
  requests = [];
  beacons = [];
  beaconAnswer = true;
  vi.stubGlobal("console", { ...console, debug: () => {} });
  vi.stubGlobal("fetch", (url: string, init: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      requests.push({
        url,
        init,
        body: JSON.parse(init.body as string),
        settle: (s) => (s instanceof Error ? reject(s) : resolve(new Response(null, { status: s }))),
      });
    }),
  );
  vi.stubGlobal("navigator", {
    sendBeacon: (url: string, data: Blob) => {
      if (!beaconAnswer) return false;
      // Blob.text() is async; the tag's Blob is built from one string, read it back synchronously.
      beacons.push({ url, body: JSON.parse((data as unknown as { __text: string }).__text) });
      return true;
    },
  });
  vi.stubGlobal(
    "Blob",
    class {
      __text: string;
      type: string;
      constructor(parts: string[], options: { type: string }) {
        this.__text = parts.join("");
        this.type = options.type;
      }
    },
  );
  transport = await import("../../tag/src/transport");
  transport.configure("http://cohort.test", "wk_1");
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

/** Lets the fetch promise chain run after a response is settled. */
const flushPromises = () => vi.advanceTimersByTimeAsync(0);

describe("tag transport", () => {
  it("batches events for ~250 ms into one text/plain POST /v1/batch with credentials", async () => {
    transport.enqueue(ev(1));
    transport.enqueue(ev(2));
    await vi.advanceTimersByTimeAsync(200);
    expect(requests).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(requests).toHaveLength(1);
    const { url, init, body } = req(0);
    expect(url).toBe("http://cohort.test/v1/batch");
    expect(init).toMatchObject({ method: "POST", keepalive: true, credentials: "include" });
    expect(init.headers).toBeUndefined(); // a string body is text/plain: no CORS preflight
    expect(body.writeKey).toBe("wk_1");
    expect(new Date(body.sentAt).toISOString()).toBe(body.sentAt);
    expect(names(body)).toEqual(["e1", "e2"]);
  });

  it("sends at once at 20 events, at most 20 per request, one request in flight", async () => {
    for (let i = 0; i < 25; i++) transport.enqueue(ev(i));
    await flushPromises();
    expect(requests).toHaveLength(1);
    expect(req(0).body.batch).toHaveLength(20);
    await vi.advanceTimersByTimeAsync(5000);
    expect(requests).toHaveLength(1); // still waiting for the first answer
    req(0).settle(200);
    await flushPromises();
    expect(requests).toHaveLength(2);
    expect(names(req(1).body)).toEqual(["e20", "e21", "e22", "e23", "e24"]);
  });

  it.each([500, 503, 408, 429, new TypeError("Failed to fetch")])(
    "retries after %s with exponential backoff, keeping order",
    async (failure) => {
      transport.enqueue(ev(1));
      await vi.advanceTimersByTimeAsync(250);
      req(0).settle(failure);
      await flushPromises();
      transport.enqueue(ev(2));
      await vi.advanceTimersByTimeAsync(999);
      expect(requests).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(requests).toHaveLength(2);
      expect(names(req(1).body)).toEqual(["e1", "e2"]);
      req(1).settle(failure);
      await flushPromises();
      await vi.advanceTimersByTimeAsync(1999);
      expect(requests).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(1);
      expect(requests).toHaveLength(3);
      req(2).settle(200);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(requests).toHaveLength(3);
    },
  );

  it("caps the backoff at 30 s", async () => {
    transport.enqueue(ev(1));
    await vi.advanceTimersByTimeAsync(250);
    for (let i = 0; i < 8; i++) {
      requests.at(-1)!.settle(503);
      await flushPromises();
      await vi.advanceTimersByTimeAsync(30_000);
    }
    expect(requests).toHaveLength(9);
  });

  it.each([400, 401, 403, 404, 413])("drops the batch for good on %i", async (status) => {
    transport.enqueue(ev(1));
    await vi.advanceTimersByTimeAsync(250);
    req(0).settle(status);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(requests).toHaveLength(1);
    transport.enqueue(ev(2));
    await vi.advanceTimersByTimeAsync(250);
    expect(names(req(1).body)).toEqual(["e2"]);
  });

  it("keeps at most 100 events while the server is down, dropping the oldest", async () => {
    transport.enqueue(ev(0));
    await vi.advanceTimersByTimeAsync(250);
    req(0).settle(503);
    await flushPromises();
    for (let i = 1; i <= 150; i++) transport.enqueue(ev(i));
    const sent: string[] = [];
    for (let i = 1; sent.length < 100 && i < 20; i++) {
      await vi.advanceTimersByTimeAsync(30_000);
      const last = requests.at(-1)!;
      sent.push(...names(last.body));
      last.settle(200);
      await flushPromises();
    }
    expect(sent).toHaveLength(100);
    expect(sent[0]).toBe("e51");
    expect(sent.at(-1)).toBe("e150");
  });

  it("drain sends what is queued by sendBeacon, not the batch already in flight", async () => {
    transport.enqueue(ev(1));
    await vi.advanceTimersByTimeAsync(250);
    transport.enqueue(ev(2));
    transport.enqueue(ev(3));
    transport.drain();
    expect(beacons).toHaveLength(1);
    expect(beacon(0).url).toBe("http://cohort.test/v1/batch");
    expect(beacon(0).body.writeKey).toBe("wk_1");
    expect(names(beacon(0).body)).toEqual(["e2", "e3"]);
    req(0).settle(200);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(requests).toHaveLength(1);
  });

  it("asks for keepalive only for bodies the browser accepts it for (< 64 KiB)", async () => {
    transport.enqueue(ev(1));
    await vi.advanceTimersByTimeAsync(250);
    expect(req(0).init.keepalive).toBe(true);
    req(0).settle(200);
    await flushPromises();
    transport.enqueue(ev(2, { blob: "x".repeat(70_000) }));
    await vi.advanceTimersByTimeAsync(250);
    expect(req(1).init.keepalive).toBe(false);
  });

  it("drain falls back to fetch keepalive when sendBeacon refuses", async () => {
    beaconAnswer = false;
    transport.enqueue(ev(1));
    transport.drain();
    expect(beacons).toHaveLength(0);
    expect(requests).toHaveLength(1);
    expect(req(0).init).toMatchObject({ keepalive: true, credentials: "include" });
    expect(names(req(0).body)).toEqual(["e1"]);
  });
});
