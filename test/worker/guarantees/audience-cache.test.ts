// Inline audiences are compiled once per rule text and kept in a bounded cache per isolate.
import { describe, expect, it } from "vitest";
import { AUDIENCE_CACHE_MAX, audienceMatcher, cachedAudiences, contextOnlyInput } from "../../../worker/decisions/audience";

const input = { ...contextOnlyInput({}), traits: { plan: "pro", n: 7 } };

describe("the inline audience cache", () => {
  it("stays at its bound however many distinct rules arrive, and every rule still evaluates right", () => {
    const match = audienceMatcher(input, Date.now());
    for (let i = 0; i < AUDIENCE_CACHE_MAX + 500; i++) {
      expect(match({ rule: { trait: "n", op: "eq", value: i } } as never)).toBe(i === 7);
    }
    expect(cachedAudiences()).toBe(AUDIENCE_CACHE_MAX);
    // An evicted rule is compiled again when it comes back, with the same answer.
    expect(match({ rule: { trait: "n", op: "eq", value: 7 } } as never)).toBe(true);
    expect(match({ rule: { trait: "plan", op: "eq", value: "pro" } } as never)).toBe(true);
    expect(match({ rule: { nonsense: true } } as never)).toBe(false);
    expect(cachedAudiences()).toBe(AUDIENCE_CACHE_MAX);
  });
});
