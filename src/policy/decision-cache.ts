/**
 * A bounded least-recently-used map for access decisions. A Cedar evaluation costs tens to hundreds of
 * microseconds; agents repeat the same few statements, so most accesses are answered from here. One cache
 * belongs to one engine, and an engine to one loaded policy set: reloading policies builds a new engine
 * and so drops every cached decision (no stale allow can survive a policy change).
 */

export const DEFAULT_DECISION_CACHE_SIZE = 10_000;

export class DecisionCache<V> {
  // A Map iterates in insertion order: re-inserting on every hit keeps the least recently used first.
  private readonly entries = new Map<string, V>();
  private readonly maxEntries: number;

  constructor(maxEntries: number = DEFAULT_DECISION_CACHE_SIZE) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0) {
      throw new RangeError(`decision cache size must be a whole number >= 0, got ${maxEntries}`);
    }
    this.maxEntries = maxEntries;
  }

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    if (this.maxEntries === 0) return;
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
