/** Random identifiers: `prefix_` and hex of random bytes (`crypto.getRandomValues`). */

export function randomHex(bytes: number): string {
  let out = "";
  for (const b of crypto.getRandomValues(new Uint8Array(bytes))) out += b.toString(16).padStart(2, "0");
  return out;
}

/** A new id such as `seg_3f9a…` (8 random bytes unless said otherwise). */
export const newId = (prefix: string, bytes = 8) => `${prefix}_${randomHex(bytes)}`;
