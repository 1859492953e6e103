/**
 * A bounded cache keyed by a text within a scope: the MySQL classifier's, where the text is a statement's (or
 * its shape) and the scope the session's current database, which unqualified names resolve against. The text
 * alone is the Map key, so a lookup hashes the string the client sent (V8 keeps a string's hash in it) instead
 * of building and hashing a `database + text` key per statement; each text holds a short chain of (scope,
 * value) links, newest first, at most MAX_SCOPES_PER_TEXT (a text seen under more databases drops its oldest).
 * Generations as in ../bounded-cache.ts: texts go into the young Map; at half the capacity it becomes the old
 * one (the previous old one is dropped), and a hit in the old one moves the text's chain back to the young.
 * The capacity counts texts; each holds at most MAX_SCOPES_PER_TEXT values.
 */

/** Databases one text is cached under at a time: sessions rarely use more than a few with the same text. */
export const MAX_SCOPES_PER_TEXT = 4;

interface Link<V> {
  readonly scope: string;
  readonly value: V;
  readonly next: Link<V> | undefined;
}

export class ScopedCache<V> {
  private young = new Map<string, Link<V>>();
  private old = new Map<string, Link<V>>();
  private readonly half: number;

  constructor(capacity: number) {
    this.half = Math.max(0, Math.floor(capacity / 2));
  }

  get(text: string, scope: string): V | undefined {
    let link = this.young.get(text);
    if (link === undefined) {
      link = this.old.get(text);
      if (link === undefined) return undefined;
      this.put(text, link);
    }
    for (; link !== undefined; link = link.next) if (link.scope === scope) return link.value;
    return undefined;
  }

  set(text: string, scope: string, value: V): void {
    if (this.half === 0) return;
    const head = this.young.get(text) ?? this.old.get(text);
    if (head === undefined) {
      this.put(text, { scope, value, next: undefined });
      return;
    }
    // Links are never changed once made (a chain may sit in both generations): the kept ones are copied in order.
    const kept: Link<V>[] = [];
    for (let link: Link<V> | undefined = head; link !== undefined; link = link.next)
      if (link.scope !== scope && kept.length < MAX_SCOPES_PER_TEXT - 1) kept.push(link);
    let chain: Link<V> | undefined;
    for (let i = kept.length - 1; i >= 0; i--)
      chain = { scope: kept[i]!.scope, value: kept[i]!.value, next: chain };
    this.put(text, { scope, value, next: chain });
  }

  /** Texts held (a text in both generations counts twice); at most the capacity. */
  get size(): number {
    return this.young.size + this.old.size;
  }

  /** The scopes a text is cached under, newest first (for tests). */
  scopesOf(text: string): string[] {
    const scopes: string[] = [];
    for (let link = this.young.get(text) ?? this.old.get(text); link !== undefined; link = link.next)
      scopes.push(link.scope);
    return scopes;
  }

  private put(text: string, link: Link<V>): void {
    if (this.young.size >= this.half && !this.young.has(text)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(text, link);
  }
}
