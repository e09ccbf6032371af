// The tag's consent: `cohort('consent', …)` and the page's signals (GPC, an IAB TCF CMP, an IAB GPP
// CMP), as the requests they make and the `context.consent` they put on events. Node with the
// browser globals stubbed, fetch answered by hand, fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { WireBatch, WireConsentRequest, WireEvent } from "../../worker/collect/wire";

type Consent = typeof import("../../tag/src/consent");
type Transport = typeof import("../../tag/src/transport");
type Body = WireBatch | WireConsentRequest;

let consent: Consent;
let transport: Transport;
let build: (command: unknown, args: unknown[]) => WireEvent | string;
let requests: { url: string; body: Body; settle: (status: number | Error) => void }[];
let beacons: { url: string; body: Body }[];
let debug: string[];

const req = (i: number) => requests[i] ?? expect.unreachable(`no request #${i}`);
/** What each request so far was: "consent" or the names of the events of a batch. */
const sent = () => requests.map(({ body }) => ("batch" in body ? body.batch.map(name) : "consent"));
const name = (e: WireEvent) => (e.type == "track" ? e.event : e.type);
const flushPromises = () => vi.advanceTimersByTimeAsync(0);

/** A browser with these extra globals on `window` and `navigator`; then the tag's modules, fresh. */
async function load(page: { window?: Record<string, unknown>; navigator?: Record<string, unknown> } = {}) {
  vi.stubGlobal("window", { ...page.window });
  vi.stubGlobal("navigator", {
    language: "en-GB",
    sendBeacon: (url: string, data: Blob) => {
      beacons.push({ url, body: JSON.parse((data as unknown as { __text: string }).__text) });
      return true;
    },
    ...page.navigator,
  });
  vi.resetModules();
  consent = await import("../../tag/src/consent");
  transport = await import("../../tag/src/transport");
  ({ build } = await import("../../tag/src/events"));
  transport.configure("http://cohort.test", "wk_1");
  consent.watch();
}

/** Queues an event the way `cohort(…)` does. */
function track(event: string) {
  const built = build("track", [event]);
  if (typeof built == "string") throw new Error(built);
  transport.enqueue(built);
  return built;
}

beforeEach(() => {
  vi.useFakeTimers();
  requests = [];
  beacons = [];
  debug = [];
  vi.stubGlobal("__VERSION__", "9.9.9");
  vi.stubGlobal("console", { ...console, debug: (line: string) => debug.push(line) });
  vi.stubGlobal("location", { href: "https://shop.example/", pathname: "/", search: "" });
  vi.stubGlobal("document", { title: "Shop", referrer: "" });
  vi.stubGlobal("screen", { width: 1280, height: 800 });
  vi.stubGlobal("fetch", (url: string, init: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      requests.push({
        url,
        body: JSON.parse(init.body as string),
        settle: (s) => (s instanceof Error ? reject(s) : resolve(new Response(null, { status: s }))),
      });
    }),
  );
  vi.stubGlobal(
    "Blob",
    class {
      constructor(
        public __text: string[] | string,
        public options: { type: string },
      ) {
        this.__text = (__text as string[]).join("");
      }
    },
  );
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

/** A TCF v2 CMP stub that answers addEventListener with these (tcData, success) calls, at once. */
const tcfapi = (...calls: [unknown, boolean?][]) =>
  vi.fn((command: string, version: number, callback: (tcData: unknown, success?: boolean) => void) => {
    if (command == "addEventListener" && version == 2) for (const [data, success] of calls) callback(data, success);
  });

/** A GPP 1.1 CMP stub: addEventListener calls back with events, ping with ping data. */
const gppapi = (events: unknown[], ping?: unknown) =>
  vi.fn((command: string, callback: (data: unknown, success: boolean) => void) => {
    if (command == "addEventListener") for (const event of events) callback(event, true);
    if (command == "ping" && ping) callback(ping, true);
  });

const TC = "CQAAAAAQAAAAAAAAAAENAwEAAAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAAA";
const TC2 = "CQBBBBBQBBBBBAAAAAENAwEAAAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAAA";
const GPP = "DBABMA~CQAAAAAQAAAAAAAAAAENAwEAAAAAAAAAAAAAAAAAAAAA";
const event = (eventStatus: string, tcString = TC) => ({ eventStatus, tcString, gdprApplies: true, listenerId: 1 });
const gppEvent = (gppString: string, signalStatus = "ready") => ({
  eventName: "signalStatus",
  listenerId: 1,
  data: signalStatus,
  pingData: { gppVersion: "1.1", cmpStatus: "loaded", signalStatus, gppString },
});

describe("the page's consent signals", () => {
  it.each([
    { page: "no signals at all", setup: {}, consent: undefined },
    { page: "navigator.globalPrivacyControl = true", setup: { navigator: { globalPrivacyControl: true } }, consent: { gpc: true } },
    { page: "navigator.globalPrivacyControl = false", setup: { navigator: { globalPrivacyControl: false } }, consent: undefined },
    { page: 'navigator.globalPrivacyControl = "1" (not the boolean)', setup: { navigator: { globalPrivacyControl: "1" } }, consent: undefined },
    { page: "a TCF CMP with tcloaded", setup: { window: { __tcfapi: tcfapi([event("tcloaded"), true]) } }, consent: { tcString: TC } },
    {
      page: "a TCF CMP that shows its UI, then the visitor answers",
      setup: { window: { __tcfapi: tcfapi([event("cmpuishown"), true], [event("useractioncomplete", TC2), true]) } },
      consent: { tcString: TC2 },
    },
    { page: "a TCF CMP reporting failure", setup: { window: { __tcfapi: tcfapi([event("tcloaded"), false]) } }, consent: undefined },
    { page: "a TCF CMP with an empty TC string", setup: { window: { __tcfapi: tcfapi([event("tcloaded", ""), true]) } }, consent: undefined },
    { page: "a GPP 1.1 CMP (addEventListener)", setup: { window: { __gpp: gppapi([gppEvent(GPP)]) } }, consent: { gppString: GPP } },
    { page: "a GPP 1.1 CMP that is not ready yet", setup: { window: { __gpp: gppapi([gppEvent(GPP, "not ready")]) } }, consent: undefined },
    {
      page: "a GPP 1.1 CMP answering ping only",
      setup: { window: { __gpp: gppapi([], { gppVersion: "1.1", signalStatus: "ready", gppString: GPP }) } },
      consent: { gppString: GPP },
    },
    {
      page: "a GPP 1.0 CMP returning the ping synchronously",
      setup: { window: { __gpp: (command: string) => (command == "ping" ? { gppVersion: "1.0", gppString: GPP } : undefined) } },
      consent: { gppString: GPP },
    },
    {
      page: "GPC, TCF and GPP together",
      setup: {
        navigator: { globalPrivacyControl: true },
        window: { __tcfapi: tcfapi([event("tcloaded"), true]), __gpp: gppapi([gppEvent(GPP)]) },
      },
      consent: { gpc: true, tcString: TC, gppString: GPP },
    },
  ])("$page → context.consent $consent", async ({ setup, consent: expected }) => {
    await load(setup);
    const e = track("Viewed");
    if (expected) expect(e.context.consent).toEqual(expected);
    else expect(e.context).not.toHaveProperty("consent", expect.anything());
    // Serialised, an absent consent leaves no key at all.
    if (!expected) expect(JSON.parse(JSON.stringify(e.context))).not.toHaveProperty("consent");
  });

  it("tells the Worker about a new TC string at once, before events queued after it", async () => {
    await load({ navigator: { globalPrivacyControl: true }, window: { __tcfapi: tcfapi([event("tcloaded"), true]) } });
    track("page");
    await flushPromises();
    expect(req(0).url).toBe("http://cohort.test/v1/consent");
    expect(req(0).body).toEqual({ writeKey: "wk_1", gpc: true, tcString: TC });
    expect(requests).toHaveLength(1); // the event waits for the consent answer (its Set-Cookie)
    req(0).settle(200);
    await flushPromises();
    expect(sent()).toEqual(["consent", ["page"]]);
  });

  it("posts a GPP string once even when the CMP reports it again", async () => {
    await load({ window: { __gpp: gppapi([gppEvent(GPP), gppEvent(GPP)], { signalStatus: "ready", gppString: GPP }) } });
    await flushPromises();
    expect(sent()).toEqual(["consent"]);
    expect(req(0).body).toEqual({ writeKey: "wk_1", gppString: GPP });
  });

  it("takes a TC string that changes later (the visitor reopens the CMP) and posts it", async () => {
    let listener: (tcData: unknown, success: boolean) => void = () => {};
    await load({ window: { __tcfapi: (_c: string, _v: number, cb: typeof listener) => (listener = cb) } });
    expect(track("Before").context.consent).toBeUndefined();
    listener(event("tcloaded"), true);
    listener(event("useractioncomplete", TC2), true);
    expect(track("After").context.consent).toEqual({ tcString: TC2 });
    await flushPromises();
    // The event queued before the CMP answered leaves first.
    req(0).settle(200);
    await flushPromises();
    req(1).settle(200);
    await flushPromises();
    req(2).settle(200);
    await flushPromises();
    expect(sent()).toEqual([["Before"], "consent", "consent", ["After"]]);
    expect([req(1).body, req(2).body]).toEqual([
      { writeKey: "wk_1", tcString: TC },
      { writeKey: "wk_1", tcString: TC2 },
    ]);
  });

  it.each([
    { stub: "__tcfapi that throws", window: { __tcfapi: () => { throw new Error("CMP not ready"); } } },
    { stub: "__tcfapi that is not a function", window: { __tcfapi: { queue: [] } } },
    { stub: "__tcfapi calling back with null", window: { __tcfapi: tcfapi([null, true]) } },
    { stub: "__tcfapi calling back with a number as the TC string", window: { __tcfapi: tcfapi([{ eventStatus: "tcloaded", tcString: 42 }, true]) } },
    { stub: "__tcfapi calling back with a string", window: { __tcfapi: tcfapi(["tcloaded", true]) } },
    { stub: "__gpp that throws", window: { __gpp: () => { throw new TypeError("x is undefined"); } } },
    { stub: "__gpp calling back with nothing", window: { __gpp: gppapi([undefined, null, 0], null) } },
    { stub: "__gpp with a pingData getter that throws", window: { __gpp: gppapi([{ get pingData() { throw new Error("boom"); } }]) } },
  ])("shrugs off an odd CMP ($stub): no throw, no signal", async ({ window }) => {
    await expect(load({ window })).resolves.toBeUndefined();
    expect(track("Viewed").context.consent).toBeUndefined();
    await flushPromises();
    expect(requests.filter((r) => r.url.endsWith("/v1/consent"))).toEqual([]);
  });
});

describe("cohort('consent', choice)", () => {
  it.each([undefined, null, "yes", 1, true, {}, { necessary: true }, { analytics: "true" }, { analytics: 1, personalization: true }])(
    "ignores %j with a reason",
    async (choice) => {
      await load();
      expect(consent.consent(choice)).toBe("consent needs {analytics, personalization, advertising} as booleans");
      await vi.advanceTimersByTimeAsync(1000);
      expect(requests).toEqual([]);
    },
  );

  it("a grant sends the queued events first, then the choice, then what follows once it is answered", async () => {
    await load({ navigator: { globalPrivacyControl: true } });
    track("Before 1");
    track("Before 2");
    expect(consent.consent({ analytics: true, personalization: true })).toBeUndefined();
    track("After");
    await flushPromises(); // no 250 ms wait: the choice is sent at once
    expect(sent()).toEqual([["Before 1", "Before 2"]]);
    req(0).settle(200);
    await flushPromises();
    expect(sent()).toEqual([["Before 1", "Before 2"], "consent"]);
    expect(req(1).url).toBe("http://cohort.test/v1/consent");
    expect(req(1).body).toEqual({ writeKey: "wk_1", gpc: true, purposes: { analytics: true, personalization: true } });
    req(1).settle(200);
    await flushPromises();
    expect(sent()).toEqual([["Before 1", "Before 2"], "consent", ["After"]]);
  });

  it("a refusal of both analytics and personalisation drops the events not yet sent", async () => {
    await load();
    track("In Flight");
    await vi.advanceTimersByTimeAsync(250);
    track("Queued 1");
    track("Queued 2");
    consent.consent({ analytics: false, personalization: false, advertising: false });
    track("After");
    req(0).settle(200);
    await flushPromises();
    req(1).settle(200);
    await flushPromises();
    expect(sent()).toEqual([["In Flight"], "consent", ["After"]]);
    expect(req(1).body).toEqual({ writeKey: "wk_1", purposes: { analytics: false, personalization: false, advertising: false } });
  });

  it("counts earlier choices on the page: refusing one purpose, then the other, drops on the second", async () => {
    await load();
    track("A");
    consent.consent({ analytics: false });
    await flushPromises(); // "A" is on its way
    track("B");
    consent.consent({ personalization: false });
    for (let i = 0; i < 3; i++) {
      requests.at(-1)!.settle(200);
      await flushPromises();
    }
    expect(sent()).toEqual([["A"], "consent", "consent"]);
    expect(req(2).body).toEqual({ writeKey: "wk_1", purposes: { personalization: false } });
  });

  it("only advertising refused: nothing is dropped", async () => {
    await load();
    track("A");
    consent.consent({ advertising: false });
    await flushPromises();
    req(0).settle(200);
    await flushPromises();
    expect(sent()).toEqual([["A"], "consent"]);
  });

  it("retries a choice the Worker could not take (503), keeps order, and gives up on a 4xx", async () => {
    await load();
    consent.consent({ analytics: true });
    track("After");
    await flushPromises();
    req(0).settle(503);
    await flushPromises();
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent()).toEqual(["consent", "consent"]);
    req(1).settle(200);
    await flushPromises();
    expect(sent()).toEqual(["consent", "consent", ["After"]]);
    req(2).settle(200);
    await flushPromises();

    consent.consent({ analytics: false });
    await flushPromises();
    req(3).settle(400);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(requests).toHaveLength(4);
    expect(debug.join("\n")).toMatch(/dropped 1 item\(s\): HTTP 400/);
  });

  it("a choice waiting when the visitor leaves goes by beacon, in order with the events", async () => {
    await load();
    track("In Flight");
    await vi.advanceTimersByTimeAsync(250);
    track("A");
    consent.consent({ personalization: true });
    track("B");
    transport.drain();
    expect(beacons.map((b) => b.url.replace("http://cohort.test", ""))).toEqual(["/v1/batch", "/v1/consent", "/v1/batch"]);
    expect(beacons.map((b) => ("batch" in b.body ? b.body.batch.map(name) : b.body.purposes))).toEqual([
      ["A"],
      { personalization: true },
      ["B"],
    ]);
  });

  it("a full queue drops the oldest events but never a queued choice", async () => {
    await load();
    track("e0");
    await vi.advanceTimersByTimeAsync(250);
    req(0).settle(503);
    await flushPromises();
    consent.consent({ analytics: true });
    for (let i = 1; i <= 120; i++) track("e" + i);
    // The failed batch and the choice are at the front; 121 events compete for 100 places.
    await vi.advanceTimersByTimeAsync(1000);
    expect(sent()[1]).toBe("consent");
    req(1).settle(200);
    await flushPromises();
    expect(sent()[2]?.[0]).toBe("e21"); // e0…e20 were the oldest events
    expect(debug.join("\n")).toMatch(/queue full, dropped/);
  });
});

/** What `gtag('consent', …)` pushes onto dataLayer: its `arguments` object. */
function gtagArgs(..._args: unknown[]): IArguments {
  // eslint-disable-next-line prefer-rest-params
  return arguments;
}

describe("Google Consent Mode v2 (gtag consent commands on dataLayer)", () => {
  const GRANTED = { ad_storage: "granted", analytics_storage: "granted", ad_user_data: "granted", ad_personalization: "granted" };
  it.each([
    { page: "no dataLayer", dataLayer: undefined, mode: undefined },
    { page: "a dataLayer without consent commands", dataLayer: [{ event: "gtm.js" }, gtagArgs("config", "G-1")], mode: undefined },
    // A default alone is the page's placeholder until its CMP answers: not the visitor's choice.
    { page: "a default, no update yet", dataLayer: [gtagArgs("consent", "default", { ...GRANTED, ad_storage: "denied", wait_for_update: 500 })], mode: undefined },
    {
      page: "a default, then the CMP's update of nothing new",
      dataLayer: [gtagArgs("consent", "default", { ...GRANTED, ad_storage: "denied", wait_for_update: 500 }), gtagArgs("consent", "update", {})],
      mode: { ...GRANTED, ad_storage: "denied" },
    },
    {
      page: "a default, then an update of some types (the last value per type wins)",
      dataLayer: [
        gtagArgs("consent", "default", { ad_storage: "denied", analytics_storage: "denied", ad_user_data: "denied", ad_personalization: "denied" }),
        { event: "cmp_loaded" },
        gtagArgs("consent", "update", { analytics_storage: "granted", ad_user_data: "granted" }),
      ],
      mode: { ad_storage: "denied", analytics_storage: "granted", ad_user_data: "granted", ad_personalization: "denied" },
    },
    {
      page: "odd values and other types (only the four, only granted/denied)",
      dataLayer: [null, gtagArgs("consent", "update", { ad_storage: "yes", functionality_storage: "granted", analytics_storage: "denied" }), gtagArgs("consent", "update")],
      mode: { analytics_storage: "denied" },
    },
    { page: "a dataLayer that is not a list", dataLayer: { push() {} }, mode: undefined },
  ])("$page → googleConsentMode $mode", async ({ dataLayer, mode }) => {
    await load({ window: { dataLayer } });
    const e = track("Viewed");
    if (mode) expect(e.context.consent).toEqual({ googleConsentMode: mode });
    else expect(JSON.parse(JSON.stringify(e.context))).not.toHaveProperty("consent");
  });

  it("reads the state when each event happens, next to the other signals, and sends it with a choice", async () => {
    const dataLayer: unknown[] = [gtagArgs("consent", "default", { analytics_storage: "denied" }), gtagArgs("consent", "update", {})];
    await load({ navigator: { globalPrivacyControl: true }, window: { dataLayer } });
    const before = track("Before");
    dataLayer.push(gtagArgs("consent", "update", { analytics_storage: "granted" }));
    const after = track("After");
    expect(before.context.consent).toEqual({ gpc: true, googleConsentMode: { analytics_storage: "denied" } });
    expect(after.context.consent).toEqual({ gpc: true, googleConsentMode: { analytics_storage: "granted" } });
    consent.consent({ advertising: false });
    await flushPromises();
    req(0).settle(200);
    await flushPromises();
    expect(sent()).toEqual([["Before", "After"], "consent"]);
    expect(req(1).body).toEqual({ writeKey: "wk_1", gpc: true, googleConsentMode: { analytics_storage: "granted" }, purposes: { advertising: false } });
  });
});
