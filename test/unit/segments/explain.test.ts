// explain: the tree a marketer reads to see why a visitor is in a segment or not, and the bridge
// from a profile's stored events and an enriched request context to the rules' input.
import { describe, expect, it } from "vitest";
import { explain } from "../../../worker/segments/explain";
import { segmentContextOf, segmentEventOf } from "../../../worker/segments/input";
import { parseRule, type Rule } from "../../../worker/segments/schema";
import { inputOf, NOW } from "./helpers";

function rule(json: unknown): Rule {
  const parsed = parseRule(json);
  if (!parsed.ok) throw new Error(parsed.error.path);
  return parsed.rule;
}

describe("explain", () => {
  const designExample = rule({
    all: [
      { trait: "plan", op: "eq", value: "pro" },
      { event: "Product Viewed", where: [{ property: "category", op: "eq", value: "shoes" }], within: "7d", count: { op: "gte", value: 3 } },
      { not: { event: "Order Completed", within: "30d" } },
      { metric: { agg: "sum", event: "Order Completed", property: "total", within: "90d" }, op: "gte", value: 100 },
      { lastSeen: { within: "1d" } },
      { consent: "personalization" },
      { segment: "vip" },
      { context: "geo.country", op: "in", value: ["FR", "BE"] },
    ],
  });
  const input = inputOf({
    traits: { plan: "pro" },
    events: [
      { name: "Product Viewed", at: "-1d", properties: { category: "shoes" } },
      { name: "Product Viewed", at: "-2d", properties: { category: "shoes" } },
      { name: "Order Completed", at: "-10d", properties: { total: 60 } },
      { name: "Order Completed", at: "-40d", properties: { total: 50 } },
    ],
    lastSeen: "-1h",
    consent: { personalization: true },
    segments: { vip: false },
    context: { geo: { country: "FR" } },
  });

  it("says which clauses held, with the values seen, without short-circuit", () => {
    const tree = explain(designExample, input, NOW);
    expect(tree).toMatchObject({ path: "rule", kind: "all", result: false, summary: "all: 5 of 8 clauses held" });
    expect(tree.children?.map((child) => [child.path, child.kind, child.result, child.seen])).toEqual([
      ["rule.all.0", "trait", true, "pro"],
      ["rule.all.1", "event", false, 2],
      ["rule.all.2", "not", false, undefined],
      ["rule.all.3", "metric", true, 110],
      ["rule.all.4", "lastSeen", true, NOW - 3_600_000],
      ["rule.all.5", "consent", true, true],
      ["rule.all.6", "segment", false, false],
      ["rule.all.7", "context", true, "FR"],
    ]);
    expect(tree.children?.[1]?.summary).toBe('2 matching "Product Viewed" events within 7d (needs gte 3)');
    expect(tree.children?.[2]?.children?.[0]).toMatchObject({ path: "rule.all.2.not", kind: "event", result: true, seen: 1 });
    expect(tree.children?.[3]?.summary).toBe('sum of total of "Order Completed" events within 90d is 110 (gte 100)');
  });

  it("a prediction clause shows the score or percentile it compared, or that there is none", () => {
    const scored = inputOf({ predictions: { pred_buy: { score: 0.82, percentile: 97 } } });
    expect(explain(rule({ prediction: "pred_buy", op: "gte", value: 0.7 }), scored, NOW)).toEqual({
      path: "rule",
      kind: "prediction",
      result: true,
      seen: 0.82,
      summary: "prediction pred_buy score is 0.82 (gte 0.7)",
    });
    expect(explain(rule({ prediction: "pred_buy", percentile: { op: "gte", value: 99 } }), scored, NOW)).toMatchObject({ result: false, seen: 97, summary: "prediction pred_buy percentile is 97 (gte 99)" });
    expect(explain(rule({ prediction: "pred_buy", op: "lt", value: 1 }), inputOf({}), NOW)).toMatchObject({
      result: false,
      seen: undefined,
      summary: "no score for prediction pred_buy (needs score lt 1)",
    });
  });

  it("shows a missing value as nothing", () => {
    const tree = explain(rule({ trait: "email", op: "exists" }), inputOf({}), NOW);
    expect(tree).toMatchObject({ result: false, seen: undefined, summary: 'trait email is nothing (exists)' });
  });
});

describe("rule input from a profile", () => {
  it("a track event is its name; a page view is Page Viewed with the page's fields", () => {
    expect(segmentEventOf({ messageId: "m1", type: "track", event: "Order Completed", timestamp: "2025-01-15T12:00:00.000Z", properties: { total: 5 } })).toEqual({
      name: "Order Completed",
      type: "track",
      at: NOW,
      properties: { total: 5 },
    });
    expect(
      segmentEventOf({
        messageId: "m2",
        type: "page",
        name: "Pricing",
        timestamp: "2025-01-15T12:00:00.000Z",
        properties: { title: "Plans" },
        page: { url: "https://shop.example/pricing", path: "/pricing", title: "Pricing page" },
      }),
    ).toEqual({
      name: "Page Viewed",
      type: "page",
      at: NOW,
      properties: { url: "https://shop.example/pricing", path: "/pricing", title: "Plans", name: "Pricing" },
    });
    expect(segmentEventOf({ messageId: "m3", type: "screen", timestamp: "2025-01-15T12:00:00.000Z", properties: {} })?.name).toBe("Screen Viewed");
    expect(segmentEventOf({ messageId: "m4", type: "identify", timestamp: "2025-01-15T12:00:00.000Z", properties: {} })).toBeUndefined();
  });

  it("an enriched Segment context becomes the rule context", () => {
    expect(
      segmentContextOf({
        location: { country: "FR", city: "Lyon", continent: "EU" },
        device: { type: "mobile" },
        browser: { name: "Safari" },
        os: { name: "iOS" },
        campaign: { source: "newsletter", medium: "email", name: "spring", gclid: "x" },
        referrer: { type: "email", host: "mail.example" },
        page: { url: "https://shop.example/?utm_source=newsletter", path: "/" },
      }),
    ).toEqual({
      geo: { country: "FR", region: undefined, city: "Lyon", continent: "EU" },
      device: { type: "mobile" },
      browser: { name: "Safari" },
      os: { name: "iOS" },
      utm: { source: "newsletter", medium: "email", campaign: "spring", term: undefined, content: undefined },
      referrer: { type: "email", host: "mail.example" },
      page: { url: "https://shop.example/?utm_source=newsletter", path: "/" },
    });
  });
});
