/**
 * Decisions (DESIGN.md §3): experiences, bucketing, choosing, rendering and the edge HTML rewrite,
 * as pure functions over plain data (rewrite.ts needs workerd's HTMLRewriter). The ProfileStore,
 * the decide routes and the edge route import from here.
 */
export { parseExperience, isDangerousUrl, unsafeAttribute, EXPERIENCE_LIMITS, STATUSES, Experience, Audience, Content, SlotName, type StoredExperience, type ExperienceInput, type ExperienceError, type Variant, type Status } from "./schema";
export { hash32, bucket, inHoldout, pickVariant } from "./bucketing";
export { decide, isContextOnly, isContextOnlyAudience, isActive, HOLDOUT, type DecideInput, type DecideProfile, type DecideResult, type Exposure, type Assignment } from "./choose";
export { render, fill, escapeHtml, type RenderValues } from "./render";
export { personalise, isPersonalisable, privateCacheControl, addVary, STUB, REWRITE_DEFAULTS, type RewriteOptions } from "./rewrite";
