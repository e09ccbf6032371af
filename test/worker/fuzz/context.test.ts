// Every field of `context` with every JSON type: the request never fails with a 5xx, a value the
// schema refuses is reported with its path, and what is accepted is archived exactly as sent
// (except `ip`, dropped, and `bot`, which only Cohort sets) — checked against the stored D1 row.
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { enrich } from "../../../worker/collect/enrich";
import { normalise } from "../../../worker/collect/normalise";
import { createSite, eventually, serverPost, type TestSite } from "../helpers";
import { hostileString, hostileValue } from "./arbitraries";

const SEED = 20261202;
/** The Segment spec's context fields, the ones Cohort fills or reads, and one of nobody's. */
const FIELDS = [
  "active", "app", "campaign", "consent", "device", "ip", "library", "locale", "location", "network", "os", "page",
  "referrer", "screen", "groupId", "timezone", "userAgent", "userAgentData", "traits", "instance", "browser", "identity",
  "bot", "claimedUserId", "clientAnonymousId", "somethingElse",
];
/** One value of each JSON type, and the awkward members of each. */
const VALUES: [string, unknown][] = [
  ["null", null],
  ["true", true],
  ["false", false],
  ["zero", 0],
  ["integer", 5],
  ["negative float", -12.5],
  ["huge number", 1.7976931348623157e308],
  ["empty string", ""],
  ["string", "hello"],
  ["lone surrogate", "x\ud800"],
  ["emoji", "\ud83d\ude00"],
  ["url", "https://shop.example/?gclid=abc&utm_medium=cpc"],
  ["empty array", []],
  ["array", [1, "two", null, { three: 3 }]],
  ["empty object", {}],
  ["object", { name: 5, medium: 5, url: 7, type: ["x"], nested: { deep: [true] } }],
  ["pollution keys", JSON.parse('{"__proto__": {"polluted": 1}, "constructor": "c", "toString": 3}')],
];

let site: TestSite;
beforeAll(async () => {
  // Every purpose granted, so no consent rule (click-id removal) changes what is stored.
  site = await createSite({ consentDefaults: { analytics: true, personalization: true, advertising: true } }, "ws_fuzz_context");
});

const stored = async (messageId: string) => {
  const row = await env.DB.prepare("SELECT payload FROM events WHERE site_id = ? AND message_id = ?").bind(site.id, messageId).first<{ payload: string }>();
  return row ? (JSON.parse(row.payload) as { context: Record<string, unknown> }) : null;
};

/** What the Worker received for a value: JSON's own round trip. */
const asSent = (value: unknown) => JSON.parse(JSON.stringify(value) ?? "null") as unknown;

/**
 * Left out of the server cases: a `userAgent` string that `isbot` calls a crawler ("hello" is one)
 * makes today's ingest drop a server event's identity (`missing_identity`). That is issue 11's bot
 * finding, fixed in collect/ingest.ts by the lead; the enrichment cases below still cover it.
 */
const botClaim = (field: string, value: unknown) => field === "userAgent" && typeof value === "string" && value !== "";

/** Sends `events` ({field, value} each on its own event) in one batch; returns the accepted ones. */
async function sendAll(all: { field: string; value: unknown; messageId: string }[]) {
  const cases = all.filter(({ field, value }) => !botClaim(field, value));
  const batch = cases.map(({ field, value, messageId }) => ({ type: "track", userId: "u-fuzz-context", event: "Fuzzed", messageId, context: { [field]: value } }));
  // A control event: whatever the others are, it is kept.
  batch.push({ type: "track", userId: "u-fuzz-context", event: "Control", messageId: `${cases[0]!.messageId}-control`, context: {} as never });
  const res = await serverPost(site, "/v1/batch", { batch });
  const text = await res.text();
  expect(res.status, text.slice(0, 300)).toBe(200);
  const { rejected } = JSON.parse(text) as { rejected: { index: number; code: string; path: string }[] };
  for (const r of rejected) {
    // A refusal names the field it is about.
    expect(r.path, JSON.stringify(r)).toMatch(new RegExp(`^batch\\.${r.index}\\.context\\.${cases[r.index]!.field}(\\.|$)`));
    expect(r.code).toBe("invalid_event");
  }
  const refused = new Set(rejected.map((r) => r.index));
  return { accepted: cases.filter((_, i) => !refused.has(i)), refused: cases.filter((_, i) => refused.has(i)), control: `${cases[0]!.messageId}-control` };
}

/** The archive row holds the field exactly as it was sent. */
async function expectStoredAsSent(accepted: { field: string; value: unknown; messageId: string }[], control: string) {
  await eventually(() => stored(control), (row) => row !== null, 10_000);
  for (const { field, value, messageId } of accepted) {
    const row = await eventually(() => stored(messageId), (r) => r !== null, 10_000);
    const what = `context.${field} = ${JSON.stringify(value)}`;
    if (field === "ip") expect(Object.hasOwn(row!.context, "ip"), what).toBe(false);
    else if (field === "bot") expect(row!.context.bot, what).toBe(false);
    else expect(JSON.stringify(row!.context[field]), what).toBe(JSON.stringify(asSent(value)));
  }
}

describe("every field of context × every JSON type", () => {
  it.each(VALUES)("%s in every field: never a 5xx; refused with its path, or stored as sent", { timeout: 30_000 }, async (name, value) => {
    const cases = FIELDS.map((field, i) => ({ field, value, messageId: `ctx-${name.replace(/\W/g, "-")}-${i}` }));
    const { accepted, refused, control } = await sendAll(cases);
    // The free-form fields take any JSON: only the typed ones (page, userAgent, campaign, …) may refuse.
    const typed = new Set(["page", "userAgent", "ip", "locale", "timezone", "campaign", "consent", "library"]);
    for (const r of refused) expect(typed.has(r.field), `context.${r.field} = ${JSON.stringify(value)} was refused`).toBe(true);
    await expectStoredAsSent(accepted, control);
  });

  it("random values in random fields (property-based)", { timeout: 60_000 }, async () => {
    const samples = fc.sample(fc.tuple(fc.constantFrom(...FIELDS, "custom"), hostileValue), { seed: SEED, numRuns: 60 });
    const cases = samples.map(([field, value], i) => ({ field, value, messageId: `ctx-random-${i}` }));
    const { accepted, control } = await sendAll(cases);
    await expectStoredAsSent(accepted, control);
  });
});

describe("enrichment of a browser event with every field of any type", () => {
  const browserEdge = {
    userAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    cf: { country: "DE", city: "Berlin", continent: "EU" },
  };
  it.each(FIELDS)("context.%s: enrich never throws, and keeps what was sent", (field) => {
    for (const [, value] of VALUES) {
      // With a page URL and referrer, so campaign and referrer classification run too.
      const page = field === "page" ? value : { url: "https://shop.example/?utm_medium=cpc", referrer: "https://www.google.com/" };
      const context = { page, [field]: value } as never;
      const event = normalise({ type: "track", event: "E", userId: "u", context }, new Date());
      const out = enrich(event, browserEdge).context as Record<string, unknown>;
      const sent = asSent(value);
      if (field === "ip") expect(Object.hasOwn(out, "ip")).toBe(false);
      else if (field === "bot") expect(out.bot).toBe(false);
      else if (field === "userAgent" && (typeof sent !== "string" || sent === "")) expect(out.userAgent).toBe(browserEdge.userAgent);
      else if (typeof sent === "object" && sent !== null && !Array.isArray(sent) && ["device", "referrer"].includes(field)) {
        // The edge fills the fields the sender left out; the sender's own stay as they were.
        for (const [k, v] of Object.entries(sent)) expect(JSON.stringify((out[field] as Record<string, unknown>)[k])).toBe(JSON.stringify(v));
      } else expect(JSON.stringify(out[field]), `context.${field} = ${JSON.stringify(value)}`).toBe(JSON.stringify(sent));
    }
  });

  it("campaign of any shape next to a page URL (context.campaign.medium: 5)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom("medium", "source", "name", "gclid", "term"), hostileValue), hostileString, (campaign, referrer) => {
        const event = normalise({ type: "page", userId: "u", context: { campaign, page: { url: "https://shop.example/", referrer } } } as never, new Date());
        const out = enrich(event, browserEdge).context;
        expect(JSON.stringify(out.campaign)).toBe(JSON.stringify(campaign));
      }),
      { seed: SEED, numRuns: 200 },
    );
  });
});
