// RudderStack's Node SDK, unchanged, pointed at Cohort: it posts gzipped batches (Content-Encoding:
// gzip, its default) to `<dataPlaneUrl>/v1/batch` with the key as Basic auth, here the site's
// secret key. Its events land on the right profiles; the Profile API reads them back.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { e2e, eventually, hasTrack, lookup } from "./helpers";

// The package is CommonJS with a default export.
const Analytics = createRequire(import.meta.url)("@rudderstack/rudder-sdk-node") as new (
  writeKey: string,
  options: { dataPlaneUrl: string; flushAt?: number; flushInterval?: number; retryCount?: number; gzip?: boolean; errorHandler?: (error: unknown) => void; logLevel?: string },
) => {
  identify(message: Record<string, unknown>): void;
  track(message: Record<string, unknown>): void;
  page(message: Record<string, unknown>): void;
  flush(callback?: (error?: unknown) => void): Promise<unknown>;
  /** The SDK's axios instance: the test only watches what it sends. */
  axiosInstance: { interceptors: { request: { use(f: (config: { url?: string; headers: Record<string, unknown> }) => unknown): void } } };
};

/** Records the URL and Content-Encoding of every request the client makes. */
function watch(client: InstanceType<typeof Analytics>) {
  const sent: { url?: string; encoding: unknown }[] = [];
  client.axiosInstance.interceptors.request.use((config) => {
    const headers = config.headers as Record<string, unknown> & { get?: (name: string) => unknown };
    sent.push({ url: config.url, encoding: headers.get ? headers.get("Content-Encoding") : headers["Content-Encoding"] });
    return config;
  });
  return sent;
}

describe("@rudderstack/rudder-sdk-node against Cohort", () => {
  it("delivers identify, track and page as gzipped batches, for a userId and an anonymousId", async () => {
    const { url, secretKey } = e2e();
    const errors: unknown[] = [];
    const client = new Analytics(secretKey, { dataPlaneUrl: url, flushAt: 10, flushInterval: 60_000, retryCount: 0, errorHandler: (error) => errors.push(error), logLevel: "error" });

    const sent = watch(client);
    const userId = `rudder-user-${Date.now()}`;
    const anonymousId = `rudder-anon-${Date.now()}`;
    client.identify({ userId, traits: { email: "katherine@example.com", plan: "team" } });
    client.track({ userId, event: "Order Completed", properties: { total: 120, currency: "EUR" } });
    client.page({ anonymousId, name: "Pricing", properties: { path: "/pricing" } });
    client.track({ anonymousId, event: "Trial Started", properties: { days: 14 } });
    await client.flush();
    expect(errors).toEqual([]);
    // It may split the calls over more than one batch: every one went to /v1/batch, gzipped.
    expect(sent.length).toBeGreaterThan(0);
    for (const request of sent) expect(request).toEqual({ url: `${url}/v1/batch`, encoding: "gzip" });

    const user = await eventually(() => lookup({ userId }), hasTrack("Order Completed"), "the user's events");
    expect(user!.traits).toMatchObject({ email: "katherine@example.com", plan: "team" });
    expect(user!.recentEvents.find((e) => e.event === "Order Completed")!.properties).toMatchObject({ total: 120, currency: "EUR" });
    expect(user!.counters).toMatchObject({ "event:Order Completed": 1, "type:identify": 1 });

    const visitor = await eventually(() => lookup({ anonymousId }), hasTrack("Trial Started"), "the anonymous visitor's events");
    expect(visitor!.counters).toMatchObject({ "type:page": 1, "event:Trial Started": 1 });

    // A site's server reads the user back through the Profile API, with the same secret key.
    const res = await fetch(`${url}/v1/profile?userId=${encodeURIComponent(userId)}`, { headers: { authorization: `Basic ${btoa(`${secretKey}:`)}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ traits: { email: "katherine@example.com", plan: "team" }, predictions: {} });
  });

  it("without gzip too (gzip: false)", async () => {
    const { url, secretKey } = e2e();
    const errors: unknown[] = [];
    const client = new Analytics(secretKey, { dataPlaneUrl: url, gzip: false, flushAt: 10, flushInterval: 60_000, retryCount: 0, errorHandler: (error) => errors.push(error), logLevel: "error" });
    const sent = watch(client);
    const userId = `rudder-plain-${Date.now()}`;
    client.track({ userId, event: "Signed Up" });
    await client.flush();
    expect(errors).toEqual([]);
    expect(sent).toEqual([{ url: `${url}/v1/batch`, encoding: undefined }]);
    await eventually(() => lookup({ userId }), hasTrack("Signed Up"), "the event");
  });
});
