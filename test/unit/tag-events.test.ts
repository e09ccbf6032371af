// The tag's commands → wire events, in Node with the few browser globals it reads stubbed.
import { beforeAll, describe, expect, it, vi } from "vitest";
import type { WireEvent } from "../../worker/collect/wire";

type Build = (command: unknown, args: unknown[]) => WireEvent | string;
let build: Build;

beforeAll(async () => {
  vi.stubGlobal("__VERSION__", "9.9.9");
  vi.stubGlobal("location", { href: "https://shop.example/p?q=1", pathname: "/p", search: "?q=1" });
  vi.stubGlobal("document", { title: "Shoes", referrer: "https://search.example/" });
  vi.stubGlobal("navigator", { language: "en-GB" });
  vi.stubGlobal("screen", { width: 1280, height: 800 });
  ({ build } = await import("../../tag/src/events"));
});

const event = (command: string, ...args: unknown[]) => {
  const result = build(command, args);
  if (typeof result == "string") throw new Error(result);
  return result;
};

describe("tag events", () => {
  it("page: name and properties, the page context, a messageId and a timestamp", () => {
    const page = event("page", "Home", { section: "shoes" });
    expect(page).toMatchObject({
      type: "page",
      name: "Home",
      properties: { section: "shoes" },
      context: {
        page: { url: "https://shop.example/p?q=1", path: "/p", title: "Shoes", referrer: "https://search.example/", search: "?q=1" },
        library: { name: "cohort-tag", version: "9.9.9" },
        locale: "en-GB",
        screen: { width: 1280, height: 800 },
      },
    });
    expect(page.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(page.timestamp).toISOString()).toBe(page.timestamp);
    expect(page).not.toHaveProperty("anonymousId");
  });

  it.each([
    { args: [], name: undefined, properties: {} },
    { args: [{ a: 1 }], name: undefined, properties: { a: 1 } },
    { args: ["Cart"], name: "Cart", properties: {} },
  ])("page($args) → name $name", ({ args, name, properties }) => {
    expect(event("page", ...args)).toMatchObject({ type: "page", name, properties });
  });

  it("track needs an event name", () => {
    expect(event("track", "Product Added", { sku: "s1" })).toMatchObject({ type: "track", event: "Product Added", properties: { sku: "s1" } });
    expect(build("track", [])).toBe("track needs an event name");
    expect(build("track", [42])).toBe("track needs an event name");
  });

  it("identify remembers the userId for the events that follow", () => {
    expect(build("identify", [])).toBe("identify needs a userId");
    expect(event("track", "Before").userId).toBeUndefined();
    expect(event("identify", "u-1", { email: "ada@example.com" })).toMatchObject({
      type: "identify",
      userId: "u-1",
      traits: { email: "ada@example.com" },
    });
    expect(event("track", "After").userId).toBe("u-1");
    expect(event("identify", { plan: "pro" })).toMatchObject({ userId: "u-1", traits: { plan: "pro" } });
  });

  it.each(["decide", "nonsense", undefined])("ignores the unknown command %s with a reason", (command) => {
    expect(build(command, [])).toMatch(/^unknown command/);
  });

  it("every event gets its own messageId, even without crypto.randomUUID", () => {
    const ids = new Set([event("track", "a").messageId, event("track", "b").messageId]);
    const real = globalThis.crypto;
    vi.stubGlobal("crypto", {});
    const fallback = event("track", "c").messageId;
    vi.stubGlobal("crypto", real);
    expect(fallback).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    ids.add(fallback);
    expect(ids.size).toBe(3);
  });
});

// Last: it leaves a userId and userHash behind in the tag module.
it("sends the userHash with the identify and with later events of that user, and drops it for another user", () => {
  const hash = "a".repeat(64);
  expect(event("identify", "u-1", { plan: "pro" }, { userHash: hash })).toMatchObject({ type: "identify", userId: "u-1", traits: { plan: "pro" }, context: { identity: { userHash: hash } } });
  expect(event("track", "Clicked")).toMatchObject({ userId: "u-1", context: { identity: { userHash: hash } } });
  const other = event("identify", "u-2", {});
  expect(other.userId).toBe("u-2");
  expect(other.context).not.toHaveProperty("identity");
  expect(event("track", "Clicked").context).not.toHaveProperty("identity");
});
