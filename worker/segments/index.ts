/**
 * Segments (DESIGN.md §3): the rule language, its compiler, window edges and explain, as pure
 * functions over plain data. The ProfileStore and the admin API import from here.
 */
export { parseRule, referencedSegments, referencedPredictions, findCycle, durationMs, RULE_VERSION, LIMITS, type Rule, type RuleEnvelope, type RuleError, type ParseResult } from "./schema";
export { compileRule, compiledSegment, forgetCompiledSegments, type Evaluator } from "./compile";
export { nextChange, longestWindow } from "./windows";
export { explain, type Explanation } from "./explain";
export { eventNameOf, segmentEventOf, segmentContextOf, PAGE_EVENT, SCREEN_EVENT, type SegmentInput, type SegmentEvent, type SegmentContext } from "./input";
