/**
 * Stable bucketing: a visitor always lands in the same place of an experience, on every isolate,
 * with no state. The hash is 32-bit FNV-1a over the UTF-16 code units of `salt:experience:key`,
 * finished with murmur3's fmix32 avalanche (FNV-1a alone clusters on keys that differ only in their
 * last characters, such as sequential ids). Holdout and variant use different salts, so being in the
 * holdout says nothing about which variant a visitor would otherwise have had.
 */

/** A 32-bit unsigned hash of a string. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Where `key` falls in `experienceId` for a purpose (`salt`), uniformly in [0, 1).
 * @example bucket("demo:anon:abc", "exp_1", "variant") // → 0.7018… (always the same)
 */
export function bucket(key: string, experienceId: string, salt: string): number {
  return hash32(`${salt}:${experienceId}:${key}`) / 0x1_0000_0000;
}

/** Whether `key` is in the experience's holdout share (0 to 1). */
export function inHoldout(key: string, experienceId: string, share: number): boolean {
  return share > 0 && bucket(key, experienceId, "holdout") < share;
}

/**
 * The variant `key` gets by cumulative weights, e.g. weights 50/30/20 split [0, 1) into
 * [0, .5), [.5, .8), [.8, 1).
 * @example pickVariant("demo:anon:abc", "exp_1", [{id: "a", weight: 50}, {id: "b", weight: 50}]) // → {id: "b", …}
 */
export function pickVariant<V extends { weight: number }>(key: string, experienceId: string, variants: readonly V[]): V | undefined {
  const total = variants.reduce((sum, variant) => sum + variant.weight, 0);
  if (!(total > 0)) return undefined;
  const point = bucket(key, experienceId, "variant") * total;
  let edge = 0;
  for (const variant of variants) {
    edge += variant.weight;
    if (point < edge) return variant;
  }
  return variants[variants.length - 1]; // rounding at the very top
}
