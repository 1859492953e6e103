/**
 * A bounded cache of two generations, for the statement classifiers (every statement looks one up): entries go
 * into the young Map; when it holds half the capacity it becomes the old one (the previous old one is dropped),
 * and a hit in the old one moves the entry back to the young. Recently used entries stay, as in an LRU, at a
 * constant cost per call. A Map kept in LRU order by delete and re-insert, evicting its first key, walks over
 * the deleted slots at its front on every eviction (V8 compacts them only when it rehashes): at 5,000 entries
 * that was ~6 µs per new statement text, every one of pgbench -S's in simple mode.
 */
export class BoundedCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;

  constructor(capacity: number) {
    this.half = Math.max(0, Math.floor(capacity / 2));
  }

  get(key: K): V | undefined {
    const young = this.young.get(key);
    if (young !== undefined) return young;
    const old = this.old.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: K, value: V): void {
    if (this.half === 0) return;
    if (this.young.size >= this.half && !this.young.has(key)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  /** Entries held (an entry in both generations counts twice); at most the capacity. */
  get size(): number {
    return this.young.size + this.old.size;
  }
}
