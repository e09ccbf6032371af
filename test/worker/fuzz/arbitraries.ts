// Hostile input for the fuzz suites: strings, keys, values and whole request bodies that a broken
// SDK, a proxy that truncates, or an attacker would send. Sizes are bounded so a run stays quick.
import fc from "fast-check";

/**
 * Ranges that once found Worker bugs (each now fixed and pinned in known-bugs.test.ts): nesting
 * thousands of levels deep, clock-skew corrections beyond Date's range, event types naming
 * Object.prototype members.
 */
export const MAX_FUZZ_DEPTH = 5000;
export const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype);

/** Strings that have broken JSON, SQL, UTF-8 and object handling elsewhere. */
export const edgeStrings = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "\ud800",
  "\udfff",
  "x\ud83d",
  "\ud83d\ude00",
  "\u202eevil\u202c",
  "\u200f\u05e9\u05dc\u05d5\u05dd",
  "\ufeff",
  "e\u0301",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "%00",
  "%ED%A0%80",
  "'; DROP TABLE events; --",
  "<script>alert(1)</script>",
  "null",
  "1e400",
  "-0",
] as const;

export const POLLUTION_KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "__defineGetter__"] as const;

export const hostileString = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(...edgeStrings) },
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
);

export const hostileKey = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...POLLUTION_KEYS) }, hostileString);

/** Any JSON value built from hostile keys and strings (NaN and ±Infinity become null in JSON). */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", maxDepth: 4 },
    hostileString,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie("value"), { maxKeys: 4 }),
  ),
})).value;

export const hostileObject = fc.dictionary(hostileKey, hostileValue, { maxKeys: 5 });

/** The fields an event or an envelope has, each with any value at all. */
const FIELDS = ["type", "messageId", "anonymousId", "userId", "event", "name", "properties", "traits", "context", "timestamp",
  "sentAt", "originalTimestamp", "integrations", "previousId", "groupId", "writeKey", "batch"] as const;
export const wrongTypes = fc.dictionary(fc.constantFrom(...FIELDS), hostileValue, { maxKeys: 8 });

/** A dictionary nested `depth` levels deep, as JSON text (a JSON parser's and a serializer's worst case). */
export const nested = (depth: number, open = "[", close = "]") => open.repeat(depth) + close.repeat(depth);

/** Dates at and beyond the edges of what JavaScript's Date can hold. */
export const edgeDates = ["-271821-04-20T00:00:00.000Z", "+275760-09-13T00:00:00.000Z", "0000-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-02-30T00:00:00Z", "1", "2026"] as const;

/** A non-empty trimmed id or name the schema accepts, possibly full of odd characters. */
export const oddName = fc
  .oneof(fc.constantFrom(...edgeStrings), fc.string({ unit: "binary", minLength: 1, maxLength: 60 }))
  .filter((s) => s.trim().length > 0 && s.trim().length <= 255 && !LONE_SURROGATE.test(s));

/** Ids must be valid Unicode text: a string with a lone surrogate is refused (400). */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const TYPED_CONTEXT = ["page", "userAgent", "ip", "locale", "timezone", "campaign", "consent", "library"];

/** A valid event of any type for `userId`, with hostile properties, traits and context. */
export function validEvent(userId: string, messageId: string) {
  return fc.oneof(
    fc.record({ type: fc.constant("track"), event: oddName, properties: hostileObject }),
    fc.record({ type: fc.constantFrom("page", "screen"), name: oddName, properties: hostileObject }),
    fc.record({ type: fc.constant("identify"), traits: hostileObject }),
    fc.record({ type: fc.constant("group"), groupId: oddName, traits: hostileObject }),
    // A previousId of its own: an alias merges the previous profile's history into the user's.
    fc.record({ type: fc.constant("alias"), previousId: oddName.map((s) => `${messageId}:${s}`) }),
  ).chain((event) =>
    fc.record({ context: fc.option(hostileObject, { nil: undefined }) }).map(({ context }) => ({
      ...event,
      userId,
      messageId,
      // Context fields Cohort types (page, userAgent, …) are left out: a wrong one is an invalid event.
      ...(context ? { context: { ...context, ...Object.fromEntries(TYPED_CONTEXT.map((k) => [k, undefined])) } } : {}),
    })),
  );
}

/** An event the schema must refuse (never a 5xx, never stored as an event). */
export const invalidEvent = fc.oneof(
  hostileString,
  fc.integer(),
  fc.constant(null),
  fc.array(hostileValue, { maxLength: 3 }),
  fc.record({
    type: fc.oneof(hostileString.filter((t) => !["track", "page", "screen", "identify", "group", "alias"].includes(t)), fc.constantFrom(...PROTOTYPE_NAMES)),
    userId: fc.constant("u"),
  }),
  fc.constant({ type: "track", userId: "u" }),
  fc.constant({ type: "track", event: "No identity" }),
  fc.constant({ type: "track", userId: "u", event: "x".repeat(300) }),
  fc.constant({ type: "track", userId: "u", event: "Huge", properties: { s: "x".repeat(33 * 1024) } }),
  fc.record({ type: fc.constant("track"), userId: fc.constant("u"), event: fc.constant("E"), timestamp: hostileValue.filter((v) => typeof v !== "string" && v !== undefined) }),
);

/** Whole request bodies, as text. */
export const bodyText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  hostileValue.map((v) => JSON.stringify(v) ?? "null"),
  wrongTypes.map((v) => JSON.stringify(v)),
  fc.tuple(wrongTypes, fc.nat()).map(([v, cut]) => {
    const text = JSON.stringify({ userId: "u", event: "Cut", ...v });
    return text.slice(0, cut % text.length);
  }),
  fc.record({ userId: oddName, event: oddName, properties: hostileObject, traits: hostileObject, context: hostileObject }).map((v) => JSON.stringify(v)),
  fc.record({ userId: oddName, event: oddName, timestamp: fc.constantFrom(...edgeDates), sentAt: fc.constantFrom(...edgeDates, undefined) }).map((v) => JSON.stringify(v)),
  fc.record({ userId: oddName, event: oddName, timestamp: fc.constantFrom(...edgeDates), sentAt: fc.constantFrom(...edgeDates) }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 1, max: MAX_FUZZ_DEPTH }).map((d) => `{"userId":"u-deep","event":"Deep","properties":{"x":${nested(d)}}}`),
  fc.integer({ min: 1, max: MAX_FUZZ_DEPTH }).map((d) => `{"userId":"u-deep","event":"Deep","traits":${nested(d, '{"a":', "}").replace(/\{"a":\}/, '{"a":1}')}}`),
  fc.integer({ min: 30 * 1024, max: 40 * 1024 }).map((n) => JSON.stringify({ userId: "u-huge", event: "Huge", properties: { s: "x".repeat(n) } })),
  fc.constantFrom(
    '{"__proto__":{"polluted":"yes"},"userId":"u-proto","event":"E"}',
    '{"constructor":{"prototype":{"polluted":"yes"}},"userId":"u-proto","event":"E"}',
    '{"userId":"u-proto","event":"E","properties":{"__proto__":{"polluted":"yes"}},"context":{"__proto__":{"polluted":"yes"}}}',
    '{"userId":"u-proto","traits":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}}',
    '{"batch":[{"__proto__":{"polluted":"yes"},"type":"track","userId":"u-proto","event":"E"}],"context":{"__proto__":{"polluted":"yes"}},"integrations":{"__proto__":{"polluted":"yes"}}}',
    '{"batch":{"__proto__":[]}}',
    '{"batch":{"length":3,"0":{}}}',
    '{"batch":[]}',
    "\ufeff{}",
    "[]",
    "null",
    '"string"',
    "1e400",
    '{"userId":"u","event":"E"}garbage',
  ),
);
