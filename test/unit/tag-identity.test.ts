// The tag's identify with the site server's proof: the userHash goes with every event naming the user.
import { beforeAll, expect, it, vi } from "vitest";
import type { WireEvent } from "../../worker/collect/wire";

type Build = (command: unknown, args: unknown[]) => WireEvent | string;
let build: Build;

beforeAll(async () => {
  vi.stubGlobal("__VERSION__", "9.9.9");
  vi.stubGlobal("location", { href: "https://shop.example/", pathname: "/", search: "" });
  vi.stubGlobal("document", { title: "Shop", referrer: "" });
  vi.stubGlobal("navigator", { language: "en-GB" });
  vi.stubGlobal("screen", { width: 1280, height: 800 });
  ({ build } = await import("../../tag/src/events"));
});

const event = (command: string, ...args: unknown[]) => {
  const result = build(command, args);
  if (typeof result == "string") throw new Error(result);
  return result;
};

it("sends the userHash with the identify and with later events of that user, and drops it for another user", () => {
  const hash = "a".repeat(64);
  expect(event("identify", "u-1", { plan: "pro" }, { userHash: hash })).toMatchObject({ type: "identify", userId: "u-1", traits: { plan: "pro" }, context: { identity: { userHash: hash } } });
  expect(event("track", "Clicked")).toMatchObject({ userId: "u-1", context: { identity: { userHash: hash } } });
  const other = event("identify", "u-2", {});
  expect(other.userId).toBe("u-2");
  expect(other.context).not.toHaveProperty("identity");
  expect(event("track", "Clicked").context).not.toHaveProperty("identity");
});
