// Experiences: the DESIGN.md example validates, defaults are filled in, and every mistake is
// reported at its path — including unsafe attributes and rule errors inside an inline audience.
import { describe, expect, it } from "vitest";
import { EXPERIENCE_LIMITS, isDangerousUrl, parseExperience, unsafeAttribute } from "../../../worker/decisions/schema";

const valid = {
  name: "Shoe fans",
  slot: "hero",
  status: "live",
  variants: [{ id: "a", weight: 1, content: { text: "Hi" } }],
};

describe("parseExperience", () => {
  it("accepts the example from DESIGN.md, with defaults", () => {
    const parsed = parseExperience({
      name: "Shoe fans",
      slot: "hero",
      audience: { segment: "<id>" },
      priority: 10,
      holdout: 0.1,
      goal: { event: "Order Completed" },
      variants: [
        { id: "a", weight: 50, content: { text: "Shoes for you" } },
        { id: "b", weight: 50, content: { text: "New in: shoes" } },
      ],
    });
    expect(parsed).toMatchObject({ ok: true, experience: { status: "draft", holdout: 0.1, priority: 10, audience: { segment: "<id>" } } });
  });

  it.each([
    { audience: { all: true } },
    { audience: { rule: { context: "utm.campaign", op: "eq", value: "spring" } } },
    { audience: { rule: { version: 1, rule: { trait: "plan", op: "eq", value: "pro" } } } },
    { schedule: { start: "2026-01-01T00:00:00Z", end: "2026-02-01T00:00:00+01:00" } },
    { goal: { event: "Order Completed", where: [{ property: "total", op: "gt", value: 10 }] } },
    { variants: [{ id: "a", weight: 1, content: { html: "<b>Hi {{trait.firstName|there}}</b>" } }] },
    { variants: [{ id: "a", weight: 1, content: { attributes: { href: "/shoes?c={{context.utm.campaign}}", class: "promo" } } }] },
    { variants: [{ id: "a", weight: 1, content: { json: { banner: [1, 2, { x: null }] } } }] },
  ])("accepts %j", (overrides) => {
    expect(parseExperience({ ...valid, ...overrides })).toMatchObject({ ok: true });
  });

  it.each([
    [{ name: "" }, "name"],
    [{ slot: "hero banner" }, "slot"],
    [{ priority: 1.5 }, "priority"],
    [{ holdout: 1.2 }, "holdout"],
    [{ status: "running" }, "status"],
    [{ extra: 1 }, "extra"],
    [{ audience: { segment: "" } }, "audience.segment"],
    [{ audience: { all: false } }, "audience.all"],
    [{ audience: { rule: { all: [{ trait: "plan", op: "most", value: 1 }] } } }, "audience.rule.all.0.op"],
    [{ audience: { rule: { event: "x", within: "7y" } } }, "audience.rule.within"],
    [{ schedule: { start: "tomorrow" } }, "schedule.start"],
    [{ schedule: { start: "2026-02-01T00:00:00Z", end: "2026-01-01T00:00:00Z" } }, "schedule.end"],
    [{ goal: { event: "Order Completed", where: [{ property: "total", op: "bigger", value: 1 }] } }, "goal.where.0.op"],
    [{ variants: [] }, "variants"],
    [{ variants: [{ id: "a", weight: 0, content: { text: "x" } }] }, "variants.0.weight"],
    [{ variants: [{ id: "a", weight: 1, content: { text: "x" } }, { id: "a", weight: 1, content: { text: "y" } }] }, "variants.1.id"],
    [{ variants: [{ id: "holdout", weight: 1, content: { text: "x" } }] }, "variants.0.id"],
    [{ variants: [{ id: "a", weight: 1, content: { text: 5 } }] }, "variants.0.content.text"],
    [{ variants: [{ id: "a", weight: 1, content: { text: "x", html: "y" } }] }, "variants.0.content.html"],
    [{ variants: [{ id: "a", weight: 1, content: { video: "x" } }] }, "variants.0.content"],
    [{ variants: [{ id: "a", weight: 1, content: { attributes: { onclick: "alert(1)" } } }] }, "variants.0.content.attributes.onclick"],
    [{ variants: [{ id: "a", weight: 1, content: { attributes: { OnMouseOver: "x" } } }] }, "variants.0.content.attributes.OnMouseOver"],
    [{ variants: [{ id: "a", weight: 1, content: { attributes: { href: " JaVa\tScRiPt:alert(1)" } } }] }, "variants.0.content.attributes.href"],
    [{ variants: [{ id: "a", weight: 1, content: { attributes: { href: "jav&#x09;ascript:alert(1)" } } }] }, "variants.0.content.attributes.href"],
    [{ variants: [{ id: "a", weight: 1, content: { attributes: { srcdoc: "<script>alert(1)</script>" } } }] }, "variants.0.content.attributes.srcdoc"],
    [{ variants: [{ id: "a", weight: 1, content: { attributes: { 'x"y': "1" } } }] }, 'variants.0.content.attributes.x"y'],
    [{ variants: [{ id: "a", weight: 1, content: { attributes: {} } }] }, "variants.0.content.attributes"],
    [{ variants: [{ id: "a", weight: 1, content: { text: "x".repeat(EXPERIENCE_LIMITS.contentBytes) } }] }, "variants.0.content"],
    [{ variants: Array.from({ length: EXPERIENCE_LIMITS.variants + 1 }, (_, i) => ({ id: "v" + i, weight: 1, content: { text: "x" } })) }, "variants"],
  ])("refuses %j at %s", (overrides, path) => {
    const parsed = parseExperience({ ...valid, ...overrides });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.path).toBe(path);
      expect(parsed.error.message).not.toBe("");
    }
  });

  it("names the missing field", () => {
    expect(parseExperience({ name: "x", variants: valid.variants })).toMatchObject({ ok: false, error: { path: "slot" } });
    expect(parseExperience(null)).toMatchObject({ ok: false, error: { path: "" } });
  });
});

describe("attribute safety", () => {
  it.each([
    ["javascript:alert(1)", true],
    ["  javascript:alert(1)", true],
    ["java\nscript:alert(1)", true],
    ["JAVASCRIPT&colon;alert(1)", true],
    ["&#106;avascript:alert(1)", true],
    ["vbscript:msgbox", true],
    ["data:text/html,<script>alert(1)</script>", true],
    ["https://shop.example/javascript:", false],
    ["/shoes", false],
    ["mailto:ada@example.com", false],
  ])("isDangerousUrl(%j) → %s", (value, dangerous) => {
    expect(isDangerousUrl(value)).toBe(dangerous);
  });

  it.each([
    ["onclick", "x", true],
    ["ONLOAD", "x", true],
    ["formaction", "/x", true],
    ["href", "https://shop.example/", false],
    ["class", "promo", false],
    ["data-on", "yes", false],
  ])("unsafeAttribute(%s, %s) refuses: %s", (name, value, refused) => {
    expect(unsafeAttribute(name, value) !== undefined).toBe(refused);
  });
});
