// Rate limits count events, not only requests (issue 10): from a browser, each 10 events of a batch
// count as one request against its address (600 a minute in wrangler.toml), so twelve batches of
// 500 use up what 600 single-event requests would.
import { describe, expect, it } from "vitest";
import { eventUnits } from "../../worker/http/ratelimit";
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
});
