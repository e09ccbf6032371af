/**
 * Matching an experience's audience: a segment by the profile's current memberships, an inline
 * rule by the segment language's compiled evaluator (cached per isolate by the rule's content).
 */
import { compiledSegment, parseRule, type SegmentInput } from "../segments";
import type { Audience } from "./schema";

function evaluator(raw: unknown) {
  const text = JSON.stringify(raw);
  const parsed = parseRule(raw);
  if (!parsed.ok) return () => false;
  // Keyed by the rule's whole text: two different rules can never share a compiled function.
  return compiledSegment(`audience:${text}`, 1, parsed.rule);
}

/** `(audience) => boolean` for one visitor at `now`; `segments` are the profile's memberships. */
export function audienceMatcher(input: SegmentInput, now: number): (audience: Audience) => boolean {
  return (audience) => {
    if ("all" in audience) return true;
    if ("segment" in audience) return input.segments[audience.segment] === true;
    return evaluator(audience.rule)(input, now);
  };
}

/** An input with the request's context and nothing of a profile (contextual decisions). */
export const contextOnlyInput = (context: SegmentInput["context"]): SegmentInput => ({ traits: {}, events: [], context, consent: {}, segments: {} });
