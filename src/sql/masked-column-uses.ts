/**
 * The dialect-neutral half of "where does a statement use masked columns": the shape of the answer, the masked
 * columns indexed for lookup, and the per-statement tally each dialect's tree walk fills
 * (sql/postgres/masking-facts.ts, sql/mysql/masking-facts.ts). The walks differ; the bookkeeping does not.
 */

export interface MaskedColumnUse<Place extends string = string> {
  /** Qualified masked column: "schema.table.column" (PostgreSQL), "db.table.column" (MySQL). */
  readonly column: string;
  readonly place: Place;
}

export type MaskingFacts<Place extends string = string> =
  | { readonly ok: true; readonly uses: readonly MaskedColumnUse<Place>[] }
  | { readonly ok: false; readonly reason: string };

/** The masked columns of a connection, by table and by bare column name. */
export class MaskedColumns {
  /** qualified table -> masked column names */
  readonly byTable = new Map<string, Set<string>>();
  /** column name -> qualified masked columns with that name */
  readonly byName = new Map<string, string[]>();

  constructor(qualified: Iterable<string>) {
    for (const column of qualified) {
      const dot = column.lastIndexOf(".");
      const table = column.slice(0, dot);
      const name = column.slice(dot + 1);
      const names = this.byTable.get(table) ?? new Set<string>();
      this.byTable.set(table, names);
      names.add(name);
      this.byName.set(name, [...(this.byName.get(name) ?? []), column]);
    }
  }
}

/** What one statement's walk has found so far. */
export class MaskedUseTally<Place extends string> {
  readonly uses: MaskedColumnUse<Place>[] = [];
  /** alias, table name or qualified table -> qualified table, for every table the statement names. */
  readonly tables = new Map<string, string>();
  /** Tables the statement reads that hold masked columns. */
  readonly maskedTables = new Set<string>();
  /** Output aliases whose value carries masked columns: followed in outer queries. */
  readonly tainted = new Map<string, Set<string>>();

  constructor(readonly masked: MaskedColumns) {}

  add(columns: Iterable<string>, place: Place): void {
    for (const column of columns) this.uses.push({ column, place });
  }
}

/** Each (place, column) once, in the order first found. */
export function dedupeUses<Place extends string>(
  uses: readonly MaskedColumnUse<Place>[],
): MaskedColumnUse<Place>[] {
  const seen = new Set<string>();
  return uses.filter((use) => {
    const key = `${use.place} ${use.column}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
