/**
 * The Worker's side of profiles: calling ProfileStore objects the way the design needs —
 * following merge pointers, and merging an anonymous profile into a user's in three repeatable
 * steps, so a merge interrupted at any point is completed by the next attempt.
 */
import { parseProfileKey, profileStub, type ProfileKey } from "../identity/keys";
import { INLINE_DEFINITIONS_BYTES } from "./contract";
import type { ApplyRequest, ApplyResult, Definitions, ProfileView } from "./store";

const MAX_HOPS = 4;

type Stub = ReturnType<typeof profileStub>;

/**
 * Calls a profile, and the profile it was merged into when it answers with a forward pointer,
 * a few hops at most: every call that may land on a merged profile goes through here. Returns the
 * last answer and the key that gave it (`forwardedTo` still set when the hops ran out, or when
 * `stop` refused the next hop).
 */
export async function followMerges<T extends { forwardedTo?: ProfileKey }>(
  namespace: Env["PROFILES"],
  key: ProfileKey,
  call: (stub: Stub, key: ProfileKey) => Promise<T>,
  stop?: (next: ProfileKey) => boolean,
): Promise<{ result: T; key: ProfileKey }> {
  let result = await call(profileStub(namespace, key), key);
  for (let hop = 1; hop < MAX_HOPS && result.forwardedTo && !stop?.(result.forwardedTo); hop++) {
    key = result.forwardedTo;
    result = await call(profileStub(namespace, key), key);
  }
  return { result, key };
}

/**
 * Applies events, following forward pointers left by merges. The profile is sent the definitions'
 * version; only a profile that holds another version is sent the bundle (a second call). A
 * bundle of at most INLINE_DEFINITIONS_BYTES is sent with the first call instead. With
 * `claimed` (the key is only a browser's claim: an anonymousId it sent without a cookie), a pointer
 * into a user's profile is followed only to the users the request verified (`claimed.verified`);
 * otherwise the answer is `intoUser` and nothing is applied (README "Trust model").
 */
export async function applyToProfile(
  namespace: Env["PROFILES"],
  request: Omit<ApplyRequest, "definitions"> & { definitions?: Definitions },
  options: { claimed?: { verified: ReadonlySet<ProfileKey> } } = {},
): Promise<ApplyResult & { key: ProfileKey; intoUser?: ProfileKey }> {
  const { definitions } = request;
  // A small bundle goes with the first call: a profile without it applies at once.
  const version = definitions && (definitions.bytes <= INLINE_DEFINITIONS_BYTES ? definitions : { version: definitions.version });
  const claimed = options.claimed;
  const stop = claimed ? (next: ProfileKey) => parseProfileKey(next)?.kind === "user" && !claimed.verified.has(next) : undefined;
  const { result, key } = await followMerges(
    namespace,
    request.key,
    async (stub, key) => {
      const first = await stub.apply({ ...request, key, definitions: version });
      return first.needsDefinitions ? stub.apply({ ...request, key, definitions }) : first;
    },
    stop,
  );
  if (result.forwardedTo && stop?.(result.forwardedTo)) return { ...result, key, intoUser: result.forwardedTo };
  if (result.forwardedTo) throw new Error(`profile ${request.key}: too many merge pointers`);
  return { ...result, key };
}

/**
 * What this isolate learnt of bindings, by (anonymousId key, browser key): a binding made or found,
 * or refused because the id was in use. Neither ever changes (an id in use stays in use).
 */
const bindings = new Map<string, "new" | "refused">();
const MAX_BINDINGS = 10_000;

/**
 * Binds the anonymousId profile `from` to the browser profile `to` unless `from` is already in
 * use (first binding wins). The answer is remembered in the isolate, so a browser's next requests
 * cost nothing: `"known"` when it came from memory, else `"new"` (bound now, or found bound to
 * `to`) or `"refused"`.
 */
export async function bindAnonymousId(namespace: Env["PROFILES"], from: ProfileKey, to: ProfileKey): Promise<"new" | "known" | "refused"> {
  const pair = `${from}\u0000${to}`;
  const known = bindings.get(pair);
  if (known === "new") return "known";
  if (known === "refused") return "refused";
  const answer = (await profileStub(namespace, from).bindTo(to)) === "in_use" ? "refused" : "new";
  if (bindings.size >= MAX_BINDINGS) bindings.clear();
  bindings.set(pair, answer);
  return answer;
}

/** The profile a key leads to (after merges), or null. */
export async function viewProfile(namespace: Env["PROFILES"], key: ProfileKey): Promise<ProfileView | null> {
  return profileStub(namespace, await currentKey(namespace, key)).view();
}

/** Where a key's events land now (the end of its merge pointers). */
export async function currentKey(namespace: Env["PROFILES"], key: ProfileKey): Promise<ProfileKey> {
  const { result, key: last } = await followMerges(namespace, key, async (stub) => ({ forwardedTo: await stub.mergedInto() }));
  return result.forwardedTo ?? last;
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
