/**
 * An experience (DESIGN.md §3 "Decisions"): what a slot shows, to whom, with which variants. The zod
 * schema is the single definition; types are inferred from it. `parseExperience` validates the
 * admin API's JSON and names the offending field (`variants.1.content.attributes.onclick`), so the
 * route can answer 400 `{error: {code, message, path}}`.
 *
 * Safety of content is decided here, once, when an editor saves an experience:
 * - `text` is always text (escaped by whoever puts it in a page);
 * - `attributes` refuse event handlers (`on*`), `srcdoc`, and `javascript:`/`vbscript:`/`data:` URLs;
 *   values are escaped when written, and re-checked after placeholders are filled (render.ts);
 * - `html` is an admin-authored template, trusted as HTML; only the visitor's values that fill its
 *   placeholders are escaped, and a placeholder may sit only where an escaped value stays a value:
 *   in text or inside a quoted attribute value, not in a tag unquoted, an event handler, `style`,
 *   `srcdoc` or a `<script>`/`<style>` (template.ts); in a URL attribute its value is checked
 *   after filling like an `attributes` URL.
 */
import { z } from "zod";
import type { WireContent } from "../collect/wire";
import { parseRule, type Rule } from "../segments/schema";
import { scanTemplate } from "./template";

export const EXPERIENCE_LIMITS = {
  variants: 20,
  /** Bytes of one variant's content, serialized as JSON. */
  contentBytes: 16_384,
  attributes: 50,
  name: 200,
  slot: 100,
} as const;

export const STATUSES = ["draft", "live", "paused", "ended"] as const;
export type Status = (typeof STATUSES)[number];

/** A slot name: what `data-cohort-slot="…"` says. Letters, digits, `-`, `_`, `.`, `:`, `/`. */
export const SlotName = z
  .string()
  .min(1)
  .max(EXPERIENCE_LIMITS.slot)
  .regex(/^[A-Za-z0-9_.:/-]+$/, { error: "a slot name uses letters, digits and - _ . : / only" });

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value) ?? "").length;

/**
 * A URL that runs script or carries a document when the browser follows it. Browsers ignore ASCII
 * whitespace and control characters inside the scheme, and entity-decode attribute values, so the
 * check does too (`jav&#x09;ascript:` and `java\nscript:` are both refused).
 */
export function isDangerousUrl(value: string): boolean {
  const decoded = value
    .replace(/&#x0*([0-9a-f]+);?/gi, (_, hex: string) => String.fromCodePoint(Math.min(parseInt(hex, 16), 0x10ffff)))
    .replace(/&#0*([0-9]+);?/g, (_, dec: string) => String.fromCodePoint(Math.min(parseInt(dec, 10), 0x10ffff)))
    .replace(/&(tab|newline|colon);/gi, (_, name: string) => ({ tab: "\t", newline: "\n", colon: ":" })[name.toLowerCase()] ?? "");
  const compact = decoded.replace(/[\u0000-\u0020\u007f-\u00a0]/g, "").toLowerCase();
  return /^(javascript|vbscript|data):/.test(compact);
}

/**
 * Whether an attribute's value holds a dangerous URL: the value itself, or, for the attributes
 * that take a list (`srcset` and `imagesrcset` candidates, `ping`'s URLs), any of its URLs.
 */
export function dangerousUrlValue(name: string, value: string): boolean {
  const lower = name.toLowerCase();
  if (isDangerousUrl(value)) return true;
  if (lower === "srcset" || lower === "imagesrcset") return value.split(",").some((candidate) => isDangerousUrl(candidate.trim().split(/\s+/)[0] ?? ""));
  if (lower === "ping") return value.split(/\s+/).some(isDangerousUrl);
  return false;
}

/** Why an attribute (name, value) may not be set on a page, or undefined when it may. */
export function unsafeAttribute(name: string, value: string): string | undefined {
  if (/^on/i.test(name)) return "event-handler attributes (on…) are not allowed";
  if (/^(srcdoc|formaction)$/i.test(name)) return `the ${name} attribute is not allowed`;
  if (dangerousUrlValue(name, value)) return "javascript:, vbscript: and data: URLs are not allowed";
  return undefined;
}

/** An `html` template whose placeholders all sit where a value cannot become markup (template.ts). */
const HtmlTemplate = z.string().superRefine((html, ctx) => {
  const refused = scanTemplate(html).refused[0];
  if (refused) ctx.addIssue({ code: "custom", message: `${refused.reason} (at character ${refused.at})` });
});

const AttributeName = z
  .string()
  .regex(/^[A-Za-z_:][A-Za-z0-9_.:-]{0,99}$/, { error: "an attribute name is a letter, _ or : followed by letters, digits, _ . : -" });

const Attributes = z
  .record(AttributeName, z.string())
  .superRefine((attributes, ctx) => {
    const names = Object.keys(attributes);
    if (names.length === 0) ctx.addIssue({ code: "custom", message: "give at least one attribute" });
    if (names.length > EXPERIENCE_LIMITS.attributes) ctx.addIssue({ code: "custom", message: `at most ${EXPERIENCE_LIMITS.attributes} attributes` });
    for (const name of names) {
      const reason = unsafeAttribute(name, attributes[name]!);
      if (reason) ctx.addIssue({ code: "custom", message: reason, path: [name] });
    }
  });

/**
 * What a variant shows. `text`, `html` and attribute values may hold `{{trait.<name>}}` and
 * `{{context.<path>}}` placeholders (with an optional fallback: `{{trait.firstName|there}}`),
 * filled per visitor by render.ts.
 */
export const Content = z.union(
  [
    z.strictObject({ text: z.string() }),
    z.strictObject({ html: HtmlTemplate }),
    z.strictObject({ attributes: Attributes }),
    z.strictObject({ json: z.json() }),
  ],
  { error: "content is one of {text}, {html}, {attributes} or {json}" },
);
export type Content = z.infer<typeof Content>;
// The Worker's content is what the tag receives: keep the two definitions in step.
type _ContentIsWire = Content extends WireContent ? true : never;
const _contentIsWire: _ContentIsWire = true;
void _contentIsWire;

export const Variant = z.strictObject({
  id: z.string().min(1).max(100),
  weight: z.number().positive({ error: "a weight is a positive number" }).finite(),
  content: Content.refine((content) => bytes(content) <= EXPERIENCE_LIMITS.contentBytes, {
    error: `content is at most ${EXPERIENCE_LIMITS.contentBytes} bytes of JSON`,
  }),
});
export type Variant = z.infer<typeof Variant>;

/** A rule, validated by the segment language's own parser so its errors keep their paths. */
const AudienceRule = z.custom<Rule>((value) => typeof value === "object" && value !== null && !Array.isArray(value), { error: "a rule is a JSON object" }).superRefine((value, ctx) => {
  const parsed = parseRule(value);
  if (!parsed.ok) {
    const path = parsed.error.path.split(".").slice(1); // parseRule's paths start at "rule"
    ctx.addIssue({ code: "custom", message: parsed.error.message, path });
  }
});

/** Who sees an experience: members of a segment, visitors matching an inline rule, or everyone. */
export const Audience = z.union(
  [
    z.strictObject({ segment: z.string().min(1).max(200) }),
    z.strictObject({ rule: AudienceRule }),
    z.strictObject({ all: z.literal(true) }),
  ],
  { error: "audience is {segment: id}, {rule: …} or {all: true}" },
);
export type Audience = z.infer<typeof Audience>;

const IsoTime = z.iso.datetime({ offset: true, error: "an ISO-8601 date-time, e.g. 2026-12-01T00:00:00Z" });

export const Experience = z
  .strictObject({
    name: z.string().min(1).max(EXPERIENCE_LIMITS.name),
    slot: SlotName,
    /** Missing: everyone. */
    audience: Audience.optional(),
    priority: z.number().int().default(0),
    /** Share of the audience held out (no decision, recorded as `holdout`), 0 to 1. */
    holdout: z.number().min(0).max(1).default(0),
    goal: z.strictObject({ event: z.string().min(1).max(200), where: z.array(z.unknown()).optional() }).optional(),
    schedule: z.strictObject({ start: IsoTime.optional(), end: IsoTime.optional() }).optional(),
    status: z.enum(STATUSES).default("draft"),
    variants: z.array(Variant).min(1, { error: "an experience has at least one variant" }).max(EXPERIENCE_LIMITS.variants),
  })
  .superRefine((experience, ctx) => {
    const seen = new Set<string>();
    experience.variants.forEach((variant, i) => {
      if (variant.id === "holdout") ctx.addIssue({ code: "custom", message: '"holdout" is reserved', path: ["variants", i, "id"] });
      if (seen.has(variant.id)) ctx.addIssue({ code: "custom", message: `duplicate variant id "${variant.id}"`, path: ["variants", i, "id"] });
      seen.add(variant.id);
    });
    const { start, end } = experience.schedule ?? {};
    if (start && end && Date.parse(end) <= Date.parse(start)) ctx.addIssue({ code: "custom", message: "end is after start", path: ["schedule", "end"] });
    if (experience.goal?.where) {
      const parsed = parseRule({ event: experience.goal.event, where: experience.goal.where });
      if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.error.message, path: ["goal", ...parsed.error.path.split(".").slice(1)] });
    }
  });
export type Experience = z.infer<typeof Experience>;
export type ExperienceInput = z.input<typeof Experience>;

/** An experience as stored and decided on: the validated fields plus its id. */
export type StoredExperience = Experience & { id: string };

export interface ExperienceError {
  /** Dotted path of the offending field: `variants.0.content.attributes.onclick`. */
  path: string;
  message: string;
}

/**
 * Validates an experience (defaults filled in: priority 0, holdout 0, status "draft").
 * @example
 * parseExperience({ name: "Shoe fans", slot: "hero", audience: { segment: "seg_1" }, priority: 10,
 *   variants: [{ id: "a", weight: 1, content: { text: "Shoes for you" } }] }) // → {ok: true, experience}
 * parseExperience({ …, variants: [{ id: "a", weight: 0, content: { text: "x" } }] })
 * // → {ok: false, error: {path: "variants.0.weight", message: "a weight is a positive number"}}
 */
export function parseExperience(json: unknown): { ok: true; experience: Experience } | { ok: false; error: ExperienceError } {
  const parsed = Experience.safeParse(json);
  if (parsed.success) return { ok: true, experience: parsed.data };
  const issue = parsed.error.issues[0];
  if (!issue) return { ok: false, error: { path: "", message: "invalid experience" } };
  const picked = pickIssue(issue, json);
  return { ok: false, error: { path: picked.path.map(String).join("."), message: picked.message } };
}

/** The keys that choose an option of each union above, in the order of its options. */
const UNION_KEYS = [
  ["text", "html", "attributes", "json"],
  ["segment", "rule", "all"],
];

/** Within a content or audience union, follow the option the input chose by its key. */
function pickIssue(issue: z.core.$ZodIssue, input: unknown): { path: PropertyKey[]; message: string } {
  if (issue.code === "unrecognized_keys" && issue.keys[0] !== undefined) return { path: [...issue.path, issue.keys[0]], message: `unknown field "${issue.keys[0]}"` };
  if (issue.code !== "invalid_union") return { path: issue.path, message: issue.message };
  const at = issue.path.reduce<unknown>((value, key) => (value as Record<PropertyKey, unknown> | undefined)?.[key], input);
  const keys = typeof at === "object" && at !== null ? Object.keys(at) : [];
  for (const options of UNION_KEYS) {
    if (options.length !== issue.errors.length) continue;
    const index = options.findIndex((key) => keys.includes(key));
    const first = index < 0 ? undefined : issue.errors[index]?.[0];
    if (!first) continue;
    const inner = pickIssue(first, at);
    return { path: [...issue.path, ...inner.path], message: inner.message };
  }
  return { path: issue.path, message: issue.message };
}
