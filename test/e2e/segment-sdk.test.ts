// Segment's own Node SDK, unchanged, pointed at Cohort: a server source with the site's secret key.
import { Analytics } from "@segment/analytics-node";
import { describe, expect, it } from "vitest";
import { e2e, eventually, hasTrack, lookup } from "./helpers";

describe("@segment/analytics-node against Cohort", () => {
  it("delivers identify and track for a userId", async () => {
    const { url, secretKey } = e2e();
    const errors: unknown[] = [];
    const analytics = new Analytics({ writeKey: secretKey, host: url, path: "/v1/batch", maxRetries: 2, flushInterval: 100 });
    analytics.on("error", (error) => errors.push(error));

    const userId = `sdk-user-${Date.now()}`;
    analytics.identify({ userId, traits: { email: "grace@example.com", plan: "enterprise" } });
    analytics.track({ userId, event: "Order Completed", properties: { total: 99.5, currency: "EUR" } });
    await analytics.closeAndFlush({ timeout: 20_000 });
    expect(errors).toEqual([]);

    const profile = await eventually(() => lookup({ userId }), hasTrack("Order Completed"), "the SDK's events");
    expect(profile!.identities).toContainEqual({ kind: "userId", value: userId });
    expect(profile!.traits).toMatchObject({ email: "grace@example.com", plan: "enterprise" });
    expect(profile!.recentEvents.find((e) => e.event === "Order Completed")!.properties).toMatchObject({ total: 99.5, currency: "EUR" });
    expect(profile!.counters).toMatchObject({ "event:Order Completed": 1 });
  });
});
