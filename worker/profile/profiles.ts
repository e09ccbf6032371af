/**
 * The Worker's side of profiles: calling ProfileStore objects the way the design needs —
 * following merge pointers, and merging an anonymous profile into a user's in three repeatable
 * steps, so a merge interrupted at any point is completed by the next attempt.
 */
import { profileStub, type ProfileKey } from "../identity/keys";
import type { ApplyRequest, ApplyResult, ProfileView } from "./store";

const MAX_HOPS = 4;

/** Applies events, following forward pointers left by merges. */
export async function applyToProfile(namespace: Env["PROFILES"], request: ApplyRequest): Promise<ApplyResult & { key: ProfileKey }> {
  let key = request.key;
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const result = await profileStub(namespace, key).apply({ ...request, key });
    if (!result.forwardedTo) return { ...result, key };
    key = result.forwardedTo;
  }
  throw new Error(`profile ${request.key}: too many merge pointers`);
}

/** The profile a key leads to (after merges), or null. */
export async function viewProfile(namespace: Env["PROFILES"], key: ProfileKey): Promise<ProfileView | null> {
  return profileStub(namespace, await currentKey(namespace, key)).view();
}

/** Where a key's events land now (the end of its merge pointers). */
export async function currentKey(namespace: Env["PROFILES"], key: ProfileKey): Promise<ProfileKey> {
  for (let hop = 0; hop < MAX_HOPS; hop++) {
    const next = await profileStub(namespace, key).mergedInto();
    if (!next) return key;
    key = next;
  }
  return key;
}

/**
 * Merges `from` into `to`: the source leaves a forward pointer and hands over a snapshot, the
 * target absorbs it (once per source), then the source drops its copy. Events that reach the
 * source meanwhile are forwarded, so none is lost; counters are added without double counting.
 */
export async function mergeProfiles(namespace: Env["PROFILES"], from: ProfileKey, to: ProfileKey): Promise<boolean> {
  // The target may itself have been merged (aliased) into another profile: merge into where it leads.
  const target = await currentKey(namespace, to);
  if (from === target) return false;
  const source = profileStub(namespace, from);
  const snapshot = await source.beginMerge(target);
  if (!snapshot) return false;
  const absorbed = await profileStub(namespace, target).absorb(target, snapshot);
  if (absorbed.forwardedTo) throw new Error(`profile ${target} was merged during the merge of ${from}; retry`);
  await source.finishMerge(target);
  return true;
}
