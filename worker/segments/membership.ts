/**
 * Evaluating every segment of a workspace for one profile: in reference order (a segment that
 * names another is evaluated after it), with the memberships found so far visible to the next,
 * and the earliest moment any of them could change by time alone.
 */
import { compiledSegment } from "./compile";
import type { SegmentInput } from "./input";
import type { Rule } from "./schema";
import { longestWindow, nextChange } from "./windows";
import { referencedSegments } from "./schema";

/** A segment as the ProfileStore receives it. */
export interface SegmentDef {
  id: string;
  version: number;
  rule: Rule;
}

/** Definitions in an order where every referenced segment comes first (cycles are refused on save). */
export function inReferenceOrder(defs: readonly SegmentDef[]): SegmentDef[] {
  const byId = new Map(defs.map((d) => [d.id, d]));
  const done = new Set<string>();
  const ordered: SegmentDef[] = [];
  const visit = (def: SegmentDef, path: Set<string>) => {
    if (done.has(def.id) || path.has(def.id)) return;
    path.add(def.id);
    for (const ref of referencedSegments(def.rule)) {
      const dep = byId.get(ref);
      if (dep) visit(dep, path);
    }
    done.add(def.id);
    ordered.push(def);
  };
  for (const def of defs) visit(def, new Set());
  return ordered;
}

/** Each segment's membership for the input at `now`. `input.segments` is filled as it goes. */
export function evaluateSegments(defs: readonly SegmentDef[], input: SegmentInput, now: number): Record<string, boolean> {
  const result: Record<string, boolean> = {};
  const memberships = { ...input.segments };
  const withMemberships = { ...input, segments: memberships };
  for (const def of inReferenceOrder(defs)) {
    const member = compiledSegment(def.id, def.version, def.rule)(withMemberships, now);
    result[def.id] = member;
    memberships[def.id] = member;
  }
  return result;
}

/** The earliest future time at which any segment could change by time alone, if any. */
export function nextSegmentEdge(defs: readonly SegmentDef[], input: SegmentInput, now: number): number | undefined {
  let next: number | undefined;
  for (const def of defs) {
    const at = nextChange(def.rule, input, now);
    if (at !== undefined && (next === undefined || at < next)) next = at;
  }
  return next;
}

/** How far back events must be kept for these segments (ms; Infinity when a clause has no window). */
export function historyNeeded(defs: readonly SegmentDef[]): number {
  return defs.reduce((max, def) => Math.max(max, longestWindow(def.rule)), 0);
}
