/**
 * The one per-isolate cache of the Worker: entries live `ttlMs`, and past `max` entries the oldest
 * is dropped. What the collection path reads on every request (sites by key, live segments and
 * experiences, destinations) goes through it, so a change reaches every isolate within `ttlMs`.
 */
export class TtlCache<K, V> {
  private readonly entries = new Map<K, { value: V; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = 10_000,
  ) {}

  /** The cached value (which may itself be `undefined`: a known miss), or nothing when absent or expired. */
  lookup(key: K, now = Date.now()): { value: V } | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    // An entry set "later" than now (a clock moved back, as in tests) is not trusted either.
    if (entry.expires > now && entry.expires - now <= this.ttlMs) return { value: entry.value };
    this.entries.delete(key);
    return undefined;
  }

  set(key: K, value: V, now = Date.now()): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value as K);
    this.entries.set(key, { value, expires: now + this.ttlMs });
  }

  /** The cached value, else `load()`'s (cached; a load that throws is not). */
  async getOrLoad(key: K, load: () => Promise<V>, now = Date.now()): Promise<V> {
    const hit = this.lookup(key, now);
    if (hit) return hit.value;
    const value = await load();
    this.set(key, value, now);
    return value;
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Drops every entry whose value matches (a changed site under each of its keys). */
  deleteWhere(match: (value: V) => boolean): void {
    for (const [key, entry] of this.entries) if (match(entry.value)) this.entries.delete(key);
  }
}
