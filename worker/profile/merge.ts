/**
 * Stitching: what moves when an anonymous profile is merged into a user's (DESIGN.md §2). The
 * snapshot is plain data taken from the source in one step; `absorbPlan` decides, against what the
 * target already holds, what to add so that nothing is counted twice.
 */
import type { DeviceSummary } from "../collect/device";
import type { ExplicitChoice } from "../consent/resolve";
import { countersFor, type RecentEvent } from "./effects";

export interface ProfileSnapshot {
  key: string;
  identities: { kind: string; value: string }[];
  traits: { name: string; value: string; updatedAt: number }[];
  counters: Record<string, number>;
  /** Every messageId the source applied (its dedupe memory), with when. */
  seen: { messageId: string; at: number }[];
  events: { messageId: string; at: number; body: string }[];
  campaigns: { messageId: string; at: number; body: string }[];
  assignments?: { experienceId: string; variant: string; at: number }[];
  firstSeen?: number;
  lastSeen?: number;
  explicit?: ExplicitChoice;
  /** The device of the source's newest event that named one (collect/device.ts). */
  device?: DeviceSummary;
}

/**
 * The counters to add to the target: the source's, less what the events both already applied
 * contributed (a messageId delivered to both profiles counts once).
 */
export function countersToAdd(snapshot: ProfileSnapshot, alreadySeen: Set<string>): Record<string, number> {
  const add = { ...snapshot.counters };
  for (const event of snapshot.events) {
    if (!alreadySeen.has(event.messageId)) continue;
    const recent = JSON.parse(event.body) as RecentEvent;
    for (const name of countersFor(recent)) add[name] = (add[name] ?? 0) - 1;
  }
  return Object.fromEntries(Object.entries(add).filter(([, n]) => n > 0));
}
