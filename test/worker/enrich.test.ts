// Edge enrichment and normalisation, as pure functions over plain data.
import { describe, expect, it } from "vitest";
import { campaignFromUrl, classifyReferrer, enrich } from "../../worker/collect/enrich";
import { normalise } from "../../worker/collect/normalise";
import type { IncomingEvent } from "../../worker/collect/schema";

const CHROME_DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36";
const IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

const event = (context: Record<string, unknown> = {}): IncomingEvent => ({ type: "page", anonymousId: "a", context });
const at = new Date("2026-06-01T12:00:00.000Z");

describe("user agent", () => {
  it.each<[string, { bot: boolean; browser?: string; os?: string; device?: string }]>([
    [CHROME_DESKTOP, { browser: "Chrome", os: "Windows", device: "desktop", bot: false }],
    [IPHONE, { browser: "Mobile Safari", os: "iOS", device: "mobile", bot: false }],
    [GOOGLEBOT, { bot: true, device: "bot" }],
    ["curl/8.5.0", { bot: true }],
  ])("%s", (ua, expected) => {
    const { context } = enrich(normalise(event(), at), { userAgent: ua });
    const c = context as Record<string, any>;
    expect(c.bot).toBe(expected.bot);
    if (expected.browser) expect(c.browser.name).toBe(expected.browser);
    if (expected.os) expect(c.os.name).toBe(expected.os);
    if (expected.device) expect(c.device.type).toBe(expected.device);
  });

  it("prefers the userAgent the sender forwarded", () => {
    const { context } = enrich(normalise(event({ userAgent: IPHONE }), at), { userAgent: GOOGLEBOT });
    expect(context.bot).toBe(false);
  });
});

describe("campaign", () => {
  it.each([
    ["https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=shoes&utm_content=hero", { source: "news", medium: "email", name: "spring", term: "shoes", content: "hero" }],
    ["https://shop.example/?gclid=abc", { gclid: "abc" }],
    ["https://shop.example/", undefined],
  ])("%s", (url, expected) => {
    expect(campaignFromUrl(new URL(url))).toEqual(expected);
  });
});

describe("referrer class", () => {
  const page = new URL("https://shop.example/p");
  it.each([
    [undefined, undefined, "direct"],
    ["https://shop.example/", undefined, "internal"],
    ["https://www.google.com/", undefined, "search"],
    ["https://duckduckgo.com/", undefined, "search"],
    ["https://t.co/abc", undefined, "social"],
    ["https://www.facebook.com/", undefined, "social"],
    ["https://mail.google.com/", undefined, "email"],
    ["https://blog.example/", undefined, "referral"],
    ["https://www.google.com/", { medium: "cpc" }, "paid"],
    [undefined, { gclid: "x" }, "paid"],
    [undefined, { medium: "email" }, "email"],
  ])("%s with %j is %s", (referrer, campaign, expected) => {
    expect(classifyReferrer(referrer ? new URL(referrer) : undefined, page, campaign as Record<string, string> | undefined)).toBe(expected);
  });
});

describe("geo and privacy", () => {
  it("takes location from request.cf and drops the IP", () => {
    const { context } = enrich(normalise(event({ ip: "203.0.113.9" }), at), { cf: { country: "DE", city: "Berlin", continent: "EU", timezone: "Europe/Berlin" } });
    expect(context.location).toEqual({ country: "DE", city: "Berlin", continent: "EU", timezone: "Europe/Berlin" });
    expect(context).not.toHaveProperty("ip");
  });
});

describe("normalise", () => {
  it("corrects the sender's clock skew using sentAt", () => {
    // The browser's clock is one hour fast: it says it sent at 13:00 an event of 12:59.
    const e = normalise({ ...event(), timestamp: "2026-06-01T12:59:00.000Z", sentAt: "2026-06-01T13:00:00.000Z" }, at);
    expect(e.timestamp).toBe("2026-06-01T11:59:00.000Z");
    expect(e.originalTimestamp).toBe("2026-06-01T12:59:00.000Z");
    expect(e.receivedAt).toBe(at.toISOString());
  });

  it("never places an event in the future and fills messageId", () => {
    const e = normalise({ ...event(), timestamp: "2030-01-01T00:00:00.000Z" }, at);
    expect(e.timestamp).toBe(at.toISOString());
    expect(e.messageId).toMatch(/^[0-9a-f-]{36}$/);
  });
});
