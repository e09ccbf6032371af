/**
 * A workspace's definitions: what every profile evaluates after its events (the live segments;
 * further kinds, such as prediction models, join this bundle), versioned by their content. The
 * collection path sends a profile the version only; a profile holding another version asks for
 * the whole bundle once (DESIGN.md §2), so definitions are neither sent nor compared per event.
 */
import type { SegmentDef } from "../segments/membership";
import { liveSegments } from "./segments";

/** The bundle a profile holds and evaluates; `version` names its content. */
export interface Definitions {
  version: string;
  segments: SegmentDef[];
}

/** One bundle per loaded list (the per-isolate segment cache hands out the same array until it reloads). */
const bundles = new WeakMap<SegmentDef[], Promise<Definitions>>();

/** The version of a bundle: the first 16 hex digits of the SHA-256 of its JSON (the same in every isolate). */
export async function definitionsOf(segments: SegmentDef[]): Promise<Definitions> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(JSON.stringify({ segments })));
  const version = [...new Uint8Array(digest).slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { version, segments };
}

/** The workspace's live definitions, with their version. */
export async function liveDefinitions(db: D1Database, workspaceId: string): Promise<Definitions> {
  const segments = await liveSegments(db, workspaceId);
  let bundle = bundles.get(segments);
  if (!bundle) bundles.set(segments, (bundle = definitionsOf(segments)));
  return bundle;
}
