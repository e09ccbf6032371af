/**
 * The Segment Tracking API spec as zod schemas: the single definition of what an incoming event
 * may look like (and, through `z.infer`, its TypeScript type). Objects are `looseObject`s: fields
 * Cohort does not know are kept, as Segment keeps them.
 */
import { z } from "zod";

export const EVENT_TYPES = ["track", "page", "screen", "identify", "group", "alias"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The one-letter paths analytics.js posts to. */
export const SHORT_TYPES: Record<string, EventType> = {
  t: "track",
  p: "page",
  s: "screen",
  i: "identify",
  g: "group",
  a: "alias",
};

const MAX_ID = 255;

/** A UTF-16 surrogate without its pair: not text, and not storable as such. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Text that is stored as a key or a column (messageIds, event and page names): a lone surrogate
 * would be replaced on the way into storage (U+FFFD), so two different names or ids would become
 * one. Refused instead, naming the field; every valid string is kept as sent.
 */
const unicode = (schema: z.ZodString) => schema.refine((value) => !LONE_SURROGATE.test(value), "must be valid Unicode text (no unpaired surrogate)");

/** Segment accepts numeric ids and stores them as strings. */
const id = z
  .union([z.string(), z.number().finite()])
  .transform((value) => String(value))
  .pipe(
    z
      .string()
      .trim()
      .min(1, "must not be empty")
      .max(MAX_ID, `must be at most ${MAX_ID} characters`)
      .refine((value) => !LONE_SURROGATE.test(value), "must be valid Unicode text"),
  );

/**
 * No id: what analytics.js sends as `"userId": null` for a visitor who has not identified, and
 * RudderStack's SDK as `"userId": ""`. Both mean the field is absent; any other non-id is refused.
 */
const absent = z.union([z.null(), z.literal("")]).transform(() => undefined);
const optionalId = z.union([absent, id]).optional();

const time = z
  .string()
  .max(64)
  .refine((value) => !Number.isNaN(Date.parse(value)), "must be an ISO-8601 date-time");

/**
 * A JSON object, kept as parsed. Not rebuilt key by key: a rebuilt object would turn a
 * `"__proto__"` key into a prototype and lose it; the parsed one holds it as plain data.
 */
const dictionary = z.custom<Record<string, unknown>>(
  (value) => typeof value === "object" && value !== null && !Array.isArray(value),
  { error: "must be an object" },
);

const page = z.looseObject({
  url: z.string().max(8192).optional(),
  path: z.string().max(8192).optional(),
  referrer: z.string().max(8192).optional(),
  title: z.string().max(2048).optional(),
  search: z.string().max(8192).optional(),
});

const consentModeState = z.enum(["granted", "denied"], { error: 'must be "granted" or "denied"' });

/** Google Consent Mode v2 (`gtag('consent', …)`): the four types Cohort reads; other types are kept. */
export const googleConsentModeSchema = z.looseObject({
  ad_storage: consentModeState.optional(),
  analytics_storage: consentModeState.optional(),
  ad_user_data: consentModeState.optional(),
  ad_personalization: consentModeState.optional(),
});

/** RudderStack's consent ids: a list, or (OneTrust) a map of category id to name. */
const consentIds = z.union([z.array(z.string().max(255)).max(200), z.record(z.string().max(255), z.string().max(255))]);

/** RudderStack's JS SDK puts its consent manager's answer here (README "Consent"). */
export const consentManagementSchema = z.looseObject({
  provider: z.string().max(64).optional(),
  allowedConsentIds: consentIds.optional(),
  deniedConsentIds: consentIds.optional(),
});

export const consentSchema = z.looseObject({
  categoryPreferences: z.record(z.string(), z.boolean()).optional(),
  googleConsentMode: googleConsentModeSchema.optional(),
  tcString: z.string().max(8192).optional(),
  gppString: z.string().max(8192).optional(),
});

/**
 * Validated by `schema`, but kept exactly as parsed from JSON: zod rebuilds an object it parses, and
 * a rebuilt object loses a `"__proto__"` key (it becomes a prototype). Every issue keeps its path.
 */
function kept<S extends z.ZodType>(schema: S) {
  return z.custom<z.infer<S>>().superRefine((value, ctx) => {
    const result = schema.safeParse(value);
    if (result.success) return;
    for (const issue of result.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path, input: value });
  });
}

/** The JSON Schema of `schema`, so a `kept` schema still documents its shape (OpenAPI). */
const documented = (schema: z.ZodType) => {
  const { $schema: _drop, ...shape } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  return shape;
};

const contextFields = z.looseObject({
  page: page.optional(),
  userAgent: z.string().max(2048).optional(),
  ip: z.string().max(64).optional(),
  locale: z.string().max(64).optional(),
  timezone: z.string().max(64).optional(),
  campaign: dictionary.optional(),
  consent: consentSchema.optional(),
  consentManagement: consentManagementSchema.optional(),
  library: z.looseObject({ name: z.string().optional(), version: z.string().optional() }).optional(),
});

/** `context`: its typed fields validated, and the whole of it stored as sent. */
export const contextSchema = kept(contextFields).meta(documented(contextFields));

const common = {
  messageId: unicode(z.string().trim().min(1).max(MAX_ID)).optional(),
  anonymousId: optionalId,
  userId: optionalId,
  timestamp: time.optional(),
  originalTimestamp: time.optional(),
  sentAt: time.optional(),
  context: contextSchema.optional(),
  integrations: dictionary.optional(),
};

export const eventSchemas = {
  track: z.looseObject({
    ...common,
    type: z.literal("track"),
    event: unicode(z.string({ error: "a track call needs an event name" }).trim().min(1, "a track call needs an event name").max(MAX_ID)),
    properties: dictionary.optional(),
  }),
  page: z.looseObject({
    ...common,
    type: z.literal("page"),
    name: unicode(z.string().max(MAX_ID)).optional(),
    category: unicode(z.string().max(MAX_ID)).optional(),
    properties: dictionary.optional(),
  }),
  screen: z.looseObject({
    ...common,
    type: z.literal("screen"),
    name: unicode(z.string().max(MAX_ID)).optional(),
    category: unicode(z.string().max(MAX_ID)).optional(),
    properties: dictionary.optional(),
  }),
  identify: z.looseObject({ ...common, type: z.literal("identify"), traits: dictionary.optional() }),
  group: z.looseObject({
    ...common,
    type: z.literal("group"),
    groupId: id,
    traits: dictionary.optional(),
  }),
  alias: z.looseObject({ ...common, type: z.literal("alias"), previousId: id, userId: id }),
} satisfies Record<EventType, z.ZodType>;

export const eventSchema = z.discriminatedUnion("type", [
  eventSchemas.track,
  eventSchemas.page,
  eventSchemas.screen,
  eventSchemas.identify,
  eventSchemas.group,
  eventSchemas.alias,
]);

/** An event as validated: Segment's fields, plus whatever else the sender put in it. */
export type IncomingEvent = z.infer<typeof eventSchema>;

/** Fields of a `/v1/batch` body that apply to every event in it (Segment merges them in). */
export const batchEnvelopeSchema = z.looseObject({
  batch: z.array(z.unknown()).min(1, "a batch needs at least one event").max(2000),
  writeKey: z.string().optional(),
  context: contextSchema.optional(),
  integrations: dictionary.optional(),
  sentAt: time.optional(),
});
