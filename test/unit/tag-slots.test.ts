// The tag's slots and decisions: asks ride on the first batch as `?decide=` (or go alone to
// /v1/decide), answers reach the callbacks (`{}` on failure, kept across retries), slots are filled
// by kind (text, HTML, attributes without on* handlers), edge-filled slots are left alone, and the
// anti-flicker class goes on decision or after 800 ms. Node with a minimal fake DOM and stubbed fetch.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { WireDecisions } from "../../worker/collect/wire";

type Slots = typeof import("../../tag/src/slots");
type Transport = typeof import("../../tag/src/transport");
let slots: Slots;
let transport: Transport;
let requests: { url: string; body: Record<string, unknown>; settle: (status: number | Error, json?: unknown) => void }[];
let debug: string[];

/** Just enough of an element for the tag: dataset, classList, attributes, text and HTML. */
class FakeElement {
  attributes = new Map<string, string>();
  classes: Set<string>;
  textContent = "default";
  innerHTML = "default";
  constructor(public dataset: Record<string, string>, classes: string[] = [], done = false) {
    this.classes = new Set(classes);
    if (done) this.attributes.set("data-cohort-done", "");
  }
  classList = { remove: (name: string) => void this.classes.delete(name) };
  hasAttribute = (name: string) => this.attributes.has(name);
  setAttribute(name: string, value: string) {
    if (!/^[A-Za-z_:][\w.:-]*$/.test(name)) throw new Error("InvalidCharacterError");
    this.attributes.set(name, value);
  }
}

let elements: FakeElement[];
let root: FakeElement;
let readyState: string;
let listeners: Record<string, () => void>;
const slot = (name: string, classes?: string[], done?: boolean) => new FakeElement({ cohortSlot: name }, classes, done);

beforeEach(async () => {
  vi.useFakeTimers();
  vi.resetModules();
  requests = [];
  debug = [];
  elements = [];
  root = new FakeElement({}, ["cohort-hide"]);
  readyState = "complete";
  listeners = {};
  vi.stubGlobal("console", { ...console, debug: (line: string) => debug.push(line) });
  vi.stubGlobal("document", {
    get readyState() {
      return readyState;
    },
    documentElement: root,
    querySelectorAll: () => elements,
    addEventListener: (type: string, listener: () => void) => (listeners[type] = listener),
  });
  vi.stubGlobal("fetch", (url: string, init: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      requests.push({
        url,
        body: JSON.parse(init.body as string),
        settle: (s, json) => (s instanceof Error ? reject(s) : resolve(new Response(json === undefined ? null : JSON.stringify(json), { status: s }))),
      });
    }),
  );
  transport = await import("../../tag/src/transport");
  slots = await import("../../tag/src/slots");
  transport.configure("http://cohort.test", "wk_1");
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

const flushPromises = () => vi.advanceTimersByTimeAsync(0);
const req = (i: number) => requests[i] ?? expect.unreachable(`no request #${i}`);
const page = { type: "page" as const, properties: {}, messageId: "m1", timestamp: "t", context: { page: { url: "", path: "", title: "", referrer: "", search: "" }, library: { name: "cohort-tag" as const, version: "t" } } };
const decisions: WireDecisions = {
  hero: { experience: "e1", variant: "a", content: { text: "<b>Shoes</b>" } },
  banner: { experience: "e2", variant: "a", content: { html: "<em>New</em>" } },
  cta: { experience: "e3", variant: "b", content: { attributes: { href: "/shoes", onclick: "alert(1)", ONLOAD: "x", "bad name": "x", title: "Go" } } },
  data: { experience: "e4", variant: "a", content: { json: { a: 1 } } },
};

describe("asking for decisions", () => {
  it("rides on the first batch as ?decide=, at once, and the answer reaches the callback", async () => {
    const got: WireDecisions[] = [];
    transport.ask(["hero", "cta"], (d) => got.push(d));
    transport.enqueue(page);
    await flushPromises();
    expect(req(0).url).toBe("http://cohort.test/v1/batch?decide=hero%2Ccta");
    expect(req(0).body).toMatchObject({ writeKey: "wk_1", batch: [{ type: "page" }] });
    req(0).settle(200, { success: true, accepted: 1, rejected: [], decisions });
    await flushPromises();
    expect(got).toEqual([decisions]);
  });

  it("goes alone as POST /v1/decide {writeKey, slots} when no event is waiting", async () => {
    const got: WireDecisions[] = [];
    transport.ask(["hero"], (d) => got.push(d));
    transport.ask(["hero", "banner"], (d) => got.push(d));
    await flushPromises();
    expect(requests).toHaveLength(1);
    expect(req(0).url).toBe("http://cohort.test/v1/decide");
    expect(req(0).body).toEqual({ writeKey: "wk_1", slots: ["hero", "banner"] });
    req(0).settle(200, { decisions });
    await flushPromises();
    expect(got).toEqual([decisions, decisions]);
  });

  it("keeps the ask across a retry, and answers {} when the request fails for good or the body is not JSON", async () => {
    const got: WireDecisions[] = [];
    transport.ask(["hero"], (d) => got.push(d));
    transport.enqueue(page);
    await flushPromises();
    req(0).settle(503);
    await vi.advanceTimersByTimeAsync(1000);
    expect(req(1).url).toBe("http://cohort.test/v1/batch?decide=hero");
    expect(got).toEqual([]);
    req(1).settle(403);
    await flushPromises();
    expect(got).toEqual([{}]);
    transport.ask(["hero"], (d) => got.push(d));
    await flushPromises();
    req(2).settle(200);
    await flushPromises();
    expect(got).toEqual([{}, {}]);
  });

  it("later batches carry no ?decide, and a throwing callback is logged, not thrown", async () => {
    transport.ask(["hero"], () => {
      throw new Error("page bug");
    });
    transport.enqueue(page);
    await flushPromises();
    req(0).settle(200, { decisions });
    await flushPromises();
    expect(debug).toContain("cohort: decide callback failed: Error: page bug");
    transport.enqueue({ ...page, messageId: "m2" });
    await vi.advanceTimersByTimeAsync(250);
    expect(req(1).url).toBe("http://cohort.test/v1/batch");
  });

  it("cohort('decide', …) needs a list of slots and a callback", async () => {
    expect(slots.decide("hero", () => {})).toMatch(/decide needs/);
    expect(slots.decide(["hero"], undefined)).toMatch(/decide needs/);
    const got: WireDecisions[] = [];
    expect(slots.decide(["hero"], (d: WireDecisions) => got.push(d))).toBeUndefined();
    await flushPromises();
    req(0).settle(200, { decisions });
    await flushPromises();
    expect(got).toEqual([decisions]);
  });
});

describe("filling slots", () => {
  it("fills by kind, skips on* attributes and invalid names, leaves edge-filled and undecided slots alone, unhides", () => {
    const hero = slot("hero", ["cohort-hide", "big"]);
    const banner = slot("banner");
    const cta = slot("cta");
    const data = slot("data");
    const edge = slot("hero", [], true);
    const none = slot("nothing", ["cohort-hide"]);
    const proto = slot("__proto__");
    elements.push(hero, banner, cta, data, edge, none, proto);
    slots.fill(decisions);
    expect(hero.textContent).toBe("<b>Shoes</b>");
    expect(hero.innerHTML).toBe("default");
    expect(banner.innerHTML).toBe("<em>New</em>");
    expect(Object.fromEntries(cta.attributes)).toEqual({ href: "/shoes", title: "Go" });
    expect([data.textContent, data.innerHTML, data.attributes.size]).toEqual(["default", "default", 0]);
    expect(edge.textContent).toBe("default");
    expect(none.textContent).toBe("default");
    expect([...hero.classes, ...none.classes, ...root.classes]).toEqual(["big"]);
  });

  it("on start, asks for the page's slots (each once, not those filled at the edge) and fills them", async () => {
    const hero = slot("hero", ["cohort-hide"]);
    elements.push(hero, slot("hero"), slot("banner"), slot("edge", [], true));
    slots.slots();
    transport.enqueue(page);
    await flushPromises();
    expect(req(0).url).toBe("http://cohort.test/v1/batch?decide=hero%2Cbanner");
    req(0).settle(200, { decisions });
    await flushPromises();
    expect(hero.textContent).toBe("<b>Shoes</b>");
    expect(hero.classes.size).toBe(0);
  });

  it("shows the page after 800 ms when the answer is late", async () => {
    const hero = slot("hero", ["cohort-hide"]);
    elements.push(hero);
    slots.slots();
    await vi.advanceTimersByTimeAsync(799);
    expect(hero.classes.has("cohort-hide")).toBe(true);
    expect(root.classes.has("cohort-hide")).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(hero.classes.size + root.classes.size).toBe(0);
    req(0).settle(200, { decisions });
    await flushPromises();
    expect(hero.textContent).toBe("<b>Shoes</b>"); // still filled when it comes
  });

  it("asks nothing and unhides at once on a page without slots (or with edge-filled slots only)", async () => {
    elements.push(slot("hero", [], true));
    slots.slots();
    await vi.advanceTimersByTimeAsync(1000);
    expect(requests).toHaveLength(0);
    expect(root.classes.size).toBe(0);
  });

  it("waits for the DOM when the tag runs while the page is still loading", async () => {
    readyState = "loading";
    slots.slots();
    await flushPromises();
    expect(requests).toHaveLength(0);
    elements.push(slot("hero"));
    listeners.DOMContentLoaded!();
    await flushPromises();
    expect(req(0).url).toBe("http://cohort.test/v1/decide");
  });
});

describe("the tag's start", () => {
  it("sends the automatic page view with ?decide= for the page's slots, then fills them", async () => {
    const hero = slot("hero", ["cohort-hide"]);
    elements.push(hero);
    const doc = document as unknown as Record<string, unknown>;
    doc.currentScript = { src: "http://cohort.test/t.js", dataset: { key: "wk_1" } };
    doc.title = "Shop";
    doc.referrer = "";
    vi.stubGlobal("__VERSION__", "9.9.9");
    vi.stubGlobal("window", globalThis);
    vi.stubGlobal("addEventListener", () => {});
    vi.stubGlobal("location", { href: "http://shop.test/", pathname: "/", search: "" });
    vi.stubGlobal("navigator", { language: "en" });
    vi.stubGlobal("screen", { width: 1, height: 1 });
    await import("../../tag/src/index");
    await flushPromises();
    expect(requests).toHaveLength(1);
    expect(req(0).url).toBe("http://cohort.test/v1/batch?decide=hero");
    expect(req(0).body).toMatchObject({ batch: [{ type: "page" }] });
    req(0).settle(200, { success: true, accepted: 1, rejected: [], decisions });
    await flushPromises();
    expect(hero.textContent).toBe("<b>Shoes</b>");
    expect(debug.filter((line) => !line.startsWith("cohort: decide"))).toEqual([]);
    delete (globalThis as { cohort?: unknown }).cohort;
  });
});
