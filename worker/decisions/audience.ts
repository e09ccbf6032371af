/**
 * Matching an experience's audience: a segment by the profile's current memberships, an inline
 * rule by the segment language's compiled evaluator. Compiled inline rules are cached per isolate
 * by the rule's text, at most `AUDIENCE_CACHE_MAX` of them: past that the least recently used is
 * dropped (and compiled again if it is used again).
 */
import { compileRule, parseRule, type Evaluator, type SegmentInput } from "../segments";
import type { Audience } from "./schema";

export const AUDIENCE_CACHE_MAX = 1_000;

/** Rule text → evaluator, in order of last use (a Map iterates in insertion order). */
const cache = new Map<string, Evaluator>();
const never: Evaluator = () => false;

function evaluator(raw: unknown): Evaluator {
  // Keyed by the rule's whole text: two different rules can never share a compiled function.
  const text = JSON.stringify(raw);
  const hit = cache.get(text);
  if (hit) {
    cache.delete(text);
    cache.set(text, hit);
    return hit;
  }
  const parsed = parseRule(raw);
  const evaluate = parsed.ok ? compileRule(parsed.rule) : never;
  cache.set(text, evaluate);
  if (cache.size > AUDIENCE_CACHE_MAX) cache.delete(cache.keys().next().value!);
  return evaluate;
}

/** How many compiled inline audiences this isolate holds (for tests and diagnostics). */
export const cachedAudiences = () => cache.size;

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
