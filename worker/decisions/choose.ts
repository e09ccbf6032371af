/**
 * Choosing what each slot shows: a pure function of the experiences, the visitor and the time, so
 * the ProfileStore (sticky assignments, read-your-writes) and tests run the same code.
 *
 * For each requested slot: among the experiences for that slot that are `live` and inside their
 * schedule (`start <= now < end`), ordered by priority (highest first) then id, the first whose
 * audience matches. Then:
 * - an existing assignment wins (sticky: a weight or holdout change never moves an exposed visitor;
 *   only a variant that no longer exists is re-bucketed);
 * - otherwise the visitor is bucketed: holdout first, then a variant by weight (bucketing.ts);
 * - a holdout visitor gets no decision for the slot (the page keeps its default content, and no
 *   lower-priority experience takes the slot: that would spoil the holdout as a control group); the
 *   exposure says `holdout`.
 *
 * Consent: with `personalization` and a profile, audiences are matched against the profile and the
 * profile key is bucketed. Without it (or without a profile), the profile is not used at all, per
 * DESIGN.md: only experiences whose audience is context alone (`isContextOnly`) are considered,
 * matched on the request context, bucketed by `requestKey`, and nothing is assigned or stored.
 * The caller passes a fresh random `requestKey` per request: a cookieless visitor has no durable
 * identifier we may use, so an experiment on such visitors is randomised per page view (still a
 * fair split of exposures), and no fingerprint (IP, user agent) is ever hashed in its place.
 */
import type { WireDecision } from "../collect/wire";
import type { Rule } from "../segments/schema";
import { inHoldout, pickVariant } from "./bucketing";
import { render, type RenderValues } from "./render";
import { audienceMatcher, contextOnlyInput } from "./audience";
import type { SegmentContext } from "../segments/input";
import type { Audience, Content, StoredExperience } from "./schema";

export const HOLDOUT = "holdout";

/** An assignment as stored on the profile: a variant id or `holdout`. */
export type Assignment = string;

export interface DecideProfile {
  /** The profile key (`<workspace>:anon:<id>` / `<workspace>:user:<id>`): what is bucketed. */
  key: string;
  /** Earlier assignments by experience id. */
  assignments: Readonly<Record<string, Assignment>>;
  /** Whether the profile is in an audience (segment membership, inline rule with traits, events, …). */
  matches: (audience: Audience) => boolean;
  /** Traits for `{{trait.…}}` placeholders. */
  traits?: Record<string, unknown>;
}

export interface DecideInput {
  experiences: readonly StoredExperience[];
  slots: readonly string[];
  /** Null when there is no profile (cookieless, or no identity yet). */
  profile: DecideProfile | null;
  /** Whether a context-only audience matches the request context. */
  contextMatches: (audience: Audience) => boolean;
  /** The visitor's `personalization` consent. */
  personalization: boolean;
  /** ms since the epoch. */
  now: number;
  /** Bucketing key when the profile may not be used: a per-request random value. */
  requestKey: string;
  /** The request context for `{{context.…}}` placeholders (segment-rule shape: geo, utm, page, …). */
  context?: Record<string, unknown>;
}

export interface Exposure {
  experienceId: string;
  variantId: Assignment;
  /** The visitor's first exposure to this assignment (record it as an event). Always false without a profile. */
  first: boolean;
  /** Decided without the profile (no consent or no profile): not attributable to a visitor. */
  anonymous: boolean;
}

export interface DecideResult {
  decisions: Record<string, WireDecision>;
  exposures: Exposure[];
  /** New or changed assignments to persist on the profile (empty without a profile). */
  assignments: Record<string, Assignment>;
}

/**
 * Whether a rule reads only the request context, never the profile: `{context}` clauses combined
 * with all/any/not. Traits, events, metrics, first/last seen, consent and segment clauses are profile.
 * @example isContextOnly({ any: [{ context: "utm.campaign", op: "eq", value: "spring" }] }) // → true
 * @example isContextOnly({ all: [{ context: "geo.country", op: "eq", value: "FR" }, { trait: "plan", op: "eq", value: "pro" }] }) // → false
 */
export function isContextOnly(rule: Rule): boolean {
  if ("all" in rule) return rule.all.every(isContextOnly);
  if ("any" in rule) return rule.any.every(isContextOnly);
  if ("not" in rule) return isContextOnly(rule.not);
  return "context" in rule;
}

/** Whether an audience can be decided without the profile. A missing audience is everyone. */
export function isContextOnlyAudience(audience: Audience | undefined): boolean {
  if (audience === undefined || "all" in audience) return true;
  if ("segment" in audience) return false;
  return isContextOnly(audience.rule);
}

/** Live and inside its schedule at `now` (start inclusive, end exclusive). */
export function isActive(experience: StoredExperience, now: number): boolean {
  if (experience.status !== "live") return false;
  const start = experience.schedule?.start;
  const end = experience.schedule?.end;
  return (start === undefined || Date.parse(start) <= now) && (end === undefined || now < Date.parse(end));
}

/** Priority (highest first), then id: the order experiences compete for a slot in. */
const byPriority = (a: StoredExperience, b: StoredExperience) => b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Decides the requested slots for one visitor.
 * @example
 * decide({ experiences, slots: ["hero"], profile: { key, assignments: {}, matches }, contextMatches,
 *   personalization: true, now: Date.now(), requestKey: crypto.randomUUID() })
 * // → { decisions: { hero: { experience: "exp_1", variant: "a", content: { text: "Shoes for you" } } },
 * //     exposures: [{ experienceId: "exp_1", variantId: "a", first: true, anonymous: false }],
 * //     assignments: { exp_1: "a" } }
 */
export function decide(input: DecideInput): DecideResult {
  const profile = input.personalization ? input.profile : null;
  const key = profile ? profile.key : input.requestKey;
  const values: RenderValues = { traits: profile?.traits, context: input.context };
  const result: DecideResult = { decisions: {}, exposures: [], assignments: {} };

  for (const slot of new Set(input.slots)) {
    const candidates = input.experiences.filter((e) => e.slot === slot && isActive(e, input.now) && (profile || isContextOnlyAudience(e.audience))).sort(byPriority);
    const experience = candidates.find((e) => e.audience === undefined || "all" in e.audience || (profile ? profile.matches(e.audience) : input.contextMatches(e.audience)));
    if (!experience) continue;

    const previous = profile?.assignments[experience.id];
    let assignment: Assignment;
    let variant = previous === undefined || previous === HOLDOUT ? undefined : experience.variants.find((v) => v.id === previous);
    if (previous === HOLDOUT) assignment = HOLDOUT;
    else if (variant) assignment = variant.id;
    else if (inHoldout(key, experience.id, experience.holdout)) assignment = HOLDOUT;
    else {
      variant = pickVariant(key, experience.id, experience.variants);
      if (!variant) continue;
      assignment = variant.id;
    }

    const first = profile !== null && previous !== assignment;
    if (first) result.assignments[experience.id] = assignment;
    result.exposures.push({ experienceId: experience.id, variantId: assignment, first, anonymous: profile === null });
    if (variant) result.decisions[slot] = { experience: experience.id, variant: variant.id, content: render(variant.content as Content, values) };
  }
  return result;
}

/**
 * A decision for a visitor whose profile may not be used (no consent, no profile yet): contextual
 * audiences only, bucketed by the request's random key.
 */
export function decideWithoutProfile(request: {
  experiences: readonly StoredExperience[];
  slots: readonly string[];
  context: SegmentContext;
  now: number;
  requestKey: string;
}): DecideResult {
  return decide({
    ...request,
    profile: null,
    personalization: false,
    contextMatches: audienceMatcher(contextOnlyInput(request.context), request.now),
    context: request.context as Record<string, unknown>,
  });
}
