/**
 * A workspace's definitions: what every profile evaluates after its events (the live segments;
 * further kinds, such as prediction models, join this bundle), versioned by their content. The
 * collection path sends a profile the version only; a profile holding another version asks for
 * the whole bundle once (DESIGN.md §2), so definitions are neither sent nor compared per event.
 * A bundle of at most INLINE_DEFINITIONS_BYTES (profile/contract.ts) travels with every call
 * instead: it costs less than the second call a new profile (or one after a change) would make.
 */
import type { ModelDef } from "../predictions/score";
import type { SegmentDef } from "../segments/membership";
import { liveModels } from "./predictions";
import { liveSegments } from "./segments";

/** The bundle a profile holds and evaluates; `version` names its content. */
export interface Definitions {
  version: string;
  segments: SegmentDef[];
  /** The trained prediction models, scored before the segments (which may name the scores). */
  models: ModelDef[];
  /** The bundle's size as JSON, in bytes (a small one travels with every call: see `applyToProfile`). */
  bytes: number;
}

/**
 * One bundle per pair of loaded lists (the per-isolate segment and model caches hand out the same
 * arrays until they reload), so the version is hashed once per change, not per request.
 */
const bundles = new WeakMap<SegmentDef[], WeakMap<ModelDef[], Promise<Definitions>>>();

/** The version of a bundle: the first 16 hex digits of the SHA-256 of its JSON (the same in every isolate). */
export async function definitionsOf(segments: SegmentDef[], models: ModelDef[] = []): Promise<Definitions> {
  const json = new TextEncoder().encode(JSON.stringify({ segments, models }));
  const digest = await crypto.subtle.digest("SHA-256", json);
  const version = [...new Uint8Array(digest).slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return { version, segments, models, bytes: json.byteLength };
}

/** The workspace's live definitions, with their version. */
export async function liveDefinitions(db: D1Database, workspaceId: string): Promise<Definitions> {
  const [segments, models] = await Promise.all([liveSegments(db, workspaceId), liveModels(db, workspaceId)]);
  let byModels = bundles.get(segments);
  if (!byModels) bundles.set(segments, (byModels = new WeakMap()));
  let bundle = byModels.get(models);
  if (!bundle) byModels.set(models, (bundle = definitionsOf(segments, models)));
  return bundle;
}
