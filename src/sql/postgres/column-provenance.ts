/**
 * Resolves RowDescription provenance (table OID, attribute number) to "schema.table.column" through the
 * upstream catalog. Lookups are asynchronous, so they happen in warm() before rows flow; resolve() is
 * synchronous and says "unknown" for anything not warmed, which the masker treats as a failure (fail closed).
 */

/** Attribute number -> "schema.table.column" (lower-case as stored in the catalog) for one table OID. */
export type CatalogLookup = (tableOid: number) => Promise<ReadonlyMap<number, string>>;

/** The catalog query behind createPgCatalogLookup; dropped columns are left out. */
export const CATALOG_COLUMNS_SQL =
  "SELECT a.attnum, n.nspname, c.relname, a.attname FROM pg_catalog.pg_attribute a " +
  "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
  "WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped";

export interface CatalogRow {
  readonly attnum: number | string;
  readonly nspname: string;
  readonly relname: string;
  readonly attname: string;
}

/** A lookup over any query function (a pg.Client/Pool on a side connection to the same upstream database). */
export function createPgCatalogLookup(
  query: (sql: string, params: unknown[]) => Promise<{ rows: readonly CatalogRow[] }>,
): CatalogLookup {
  return async (tableOid) => {
    const result = await query(CATALOG_COLUMNS_SQL, [tableOid]);
    const columns = new Map<number, string>();
    for (const row of result.rows) {
      columns.set(Number(row.attnum), `${row.nspname}.${row.relname}.${row.attname}`.toLowerCase());
    }
    return columns;
  };
}

export interface ColumnProvenanceOptions {
  /** How long a table's columns are trusted; bounds the damage of DDL done by other sessions. */
  readonly ttlMs?: number;
  readonly maxTables?: number;
  readonly now?: () => number;
}

export const UNKNOWN_PROVENANCE = Symbol("unknown provenance");

interface CachedTable {
  readonly columns: ReadonlyMap<number, string>;
  readonly fetchedAt: number;
}

export class ColumnProvenance {
  private readonly tables = new Map<number, CachedTable>();
  private readonly ttlMs: number;
  private readonly maxTables: number;
  private readonly now: () => number;
  /** Bumped by invalidate(): a lookup started before it must not fill the cache with pre-DDL names. */
  private generation = 0;

  constructor(
    private readonly lookup: CatalogLookup,
    options: ColumnProvenanceOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxTables = options.maxTables ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Loads what is missing or stale; undefined when everything is already fresh (no await needed). */
  warm(tableOids: Iterable<number>): Promise<void> | undefined {
    const missing = new Set<number>();
    for (const oid of tableOids) if (oid !== 0 && !this.isFresh(oid)) missing.add(oid);
    if (missing.size === 0) return undefined;
    const generation = this.generation;
    return Promise.all(
      [...missing].map(async (oid) => {
        const columns = await this.lookup(oid);
        if (generation !== this.generation) return;
        if (this.tables.size >= this.maxTables) this.tables.delete(this.tables.keys().next().value!);
        this.tables.set(oid, { columns, fetchedAt: this.now() });
      }),
    ).then(() => {
      if (generation !== this.generation) return this.warm(missing);
    });
  }

  /** The qualified column name, undefined for a column the catalog does not list, or UNKNOWN when not warmed. */
  resolve(tableOid: number, attributeNumber: number): string | undefined | typeof UNKNOWN_PROVENANCE {
    if (!this.isFresh(tableOid)) return UNKNOWN_PROVENANCE;
    return this.tables.get(tableOid)!.columns.get(attributeNumber);
  }

  /** Forgets everything: called after DDL, which may rename or re-number columns. */
  invalidate(): void {
    this.generation++;
    this.tables.clear();
  }

  private isFresh(oid: number): boolean {
    const cached = this.tables.get(oid);
    return cached !== undefined && this.now() - cached.fetchedAt < this.ttlMs;
  }
}
