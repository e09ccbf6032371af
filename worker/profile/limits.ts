/**
 * The bounds on what one profile keeps (DESIGN.md §2: a profile is small enough to merge, move
 * and export in one call). What happens at each bound is in the README's "Guarantees".
 */

/** Events kept whatever the segments' windows, and the most ever kept. */
export const MAX_EVENTS = 5000;
/** Pruning runs once this many events were added since the last one (amortised, not per event). */
export const PRUNE_EVERY = 50;
/** Identities (userId, anonymousId, previousId, groupId values): the first ones bound stay. */
export const MAX_IDENTITIES = 100;
/** Trait names: past it, existing traits still update and new names are not kept. */
export const MAX_TRAITS = 500;
/** Counter names: past it, a new event name is counted under `event:(other)`. */
export const MAX_COUNTERS = 1000;
export const OTHER_EVENTS = "event:(other)";
/** The dedupe memory by count (besides its 30 days): the newest messageIds are kept. */
export const MAX_SEEN = 20_000;
/** Profiles merged into this one that are remembered (absorbing a forgotten one again finds nothing left to add). */
export const MAX_MERGED_FROM = 1000;
/** Experiment assignments: the oldest (often of deleted experiences) go first. */
export const MAX_ASSIGNMENTS = 200;
/** A merge's snapshot: recent events are carried newest first up to this size. */
export const MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024;
