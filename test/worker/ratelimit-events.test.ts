// Rate limits count events, not only requests (issue 10): from a browser, each 10 events of a batch
// count as one request against its address (600 a minute in wrangler.toml), so twelve batches of
// 500 use up what 600 single-event requests would.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eventUnits, Meter, UNITS_PER_CALL } from "../../worker/http/ratelimit";
import { browserPost, createSite } from "./helpers";

const batchOf = (n: number) => ({ batch: Array.from({ length: n }, (_, i) => ({ type: "track", event: `E${i % 7}` })) });

describe("rate limits by events", () => {
  it.each([
    [0, 1],
    [1, 1],
    [10, 1],
    [11, 2],
    [100, 10],
    [500, 50],
  ])("%d events count as %d requests", (events, units) => {
    expect(eventUnits(events)).toBe(units);
  });

  it("refuses the thirteenth batch of 500 events from one address; another address is not affected", async () => {
    const site = await createSite();
    // From the EEA without consent: cookieless, so the test measures the limiter, not profiles.
    const send = (ip: string, body = batchOf(500)) => browserPost(site, "/v1/batch", body, { "CF-Connecting-IP": ip }, "DE");
    // The limiter counts in windows of a minute; a run that crosses a window's edge starts afresh
    // once, so the refusal comes at the 13th batch, or at the latest one window's worth later.
    // Counted by requests (25 < 600), none of these would ever be refused.
    const statuses: number[] = [];
    while (statuses.length < 25 && statuses.at(-1) !== 429) statuses.push((await send("198.51.100.20")).status);
    const refusedAt = statuses.indexOf(429);
    expect(refusedAt).toBeGreaterThanOrEqual(12);
    expect(refusedAt).toBeLessThanOrEqual(24);
    expect(statuses.slice(0, refusedAt)).toEqual(Array(refusedAt).fill(200));
    const small = await send("198.51.100.20", batchOf(1));
    expect(small.status).toBe(429);
    expect(small.headers.get("Retry-After")).toBe("60");
    expect((await send("198.51.100.21", batchOf(1))).status).toBe(200);
  });

  it("meters units in the isolate and calls the limiter once per 10 of them, with a limit in calls", async () => {
    // IP_LIMITER allows 60 calls a minute (wrangler.toml), which stand for 600 units.
    const meter = new Meter();
    const key = `ip:meter-${crypto.randomUUID()}`;
    let calls = 0;
    const counted: RateLimit = { limit: (options) => (calls++, env.IP_LIMITER.limit(options)) };
    const answers: boolean[] = [];
    while (answers.length < 1300 && answers.at(-1) !== false) answers.push(await meter.charge(counted, key, 1));
    const refusedAt = answers.indexOf(false) + 1;
    // The 61st call (unit 610) is refused, or, when the run crosses a window's edge, one window later.
    expect(refusedAt % UNITS_PER_CALL).toBe(0);
    expect(refusedAt).toBeGreaterThanOrEqual(610);
    expect(refusedAt).toBeLessThanOrEqual(1210);
    expect(calls).toBe(refusedAt / UNITS_PER_CALL);
    // Refused: every charge now asks the limiter (its units rounded up to calls), and is refused with it.
    expect(await meter.charge(counted, key, 1)).toBe(false);
    expect(calls).toBe(refusedAt / UNITS_PER_CALL + 1);
    expect(await meter.charge(counted, key, 25)).toBe(false);
    expect(calls).toBe(refusedAt / UNITS_PER_CALL + 4);
    // A batch's units are charged in whole calls; another key has its own count.
    const other = `ip:meter-${crypto.randomUUID()}`;
    calls = 0;
    expect(await meter.charge(counted, other, 25)).toBe(true);
    expect(calls).toBe(2);
    expect(await meter.charge(counted, other, 4)).toBe(true);
    expect(calls).toBe(2);
    expect(await meter.charge(counted, other, 1)).toBe(true);
    expect(calls).toBe(3);
  });
});
