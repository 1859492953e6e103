import type pg from "pg";
import type { SuppliedColumns } from "./preview-insert-columns.js";

/**
 * Catalog facts that decide whether a rolled-back run stays inside its transaction, read on the preview's own
 * connection before the statement runs: a sequence default or identity column (an INSERT, a MERGE or an
 * UPDATE ... DEFAULT draws from the sequence, and a rollback does not give the number back), a user trigger
 * (its body may do anything), a foreign table (postgres_fdw writes to another server) or a rule.
 *
 * `defaults`: whether the statement takes column defaults: "none" (UPDATE, DELETE without DEFAULT), "all"
 * (any default may be drawn), or for a plain INSERT the columns every row supplies (preview-insert-columns.ts):
 * a sequenced column it supplies a value for draws nothing, unless identity rules take the sequence anyway.
 */
export type DefaultsDrawn = "none" | "all" | SuppliedColumns;

interface SequencedColumn {
  readonly name: string;
  /** pg_attribute.attidentity: "a" GENERATED ALWAYS, "d" BY DEFAULT, "" a serial (nextval default). */
  readonly identity: string;
  /** 1-based position among the table's columns, as an INSERT without a target list fills them. */
  readonly ordinal: number;
}

export async function catalogRefusal(
  client: pg.Client,
  tables: readonly string[],
  defaults: DefaultsDrawn,
): Promise<string | undefined> {
  const { rows } = await client.query<{
    name: string;
    relkind: string;
    triggers: number;
    rules: number;
    sequenced: SequencedColumn[] | null;
  }>(
    `SELECT n.nspname || '.' || c.relname AS name, c.relkind::text AS relkind,
       (SELECT count(*)::int FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS triggers,
       (SELECT count(*)::int FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN') AS rules,
       (SELECT json_agg(json_build_object('name', s.name, 'identity', s.identity, 'ordinal', s.ordinal))
        FROM (SELECT a.attname::text AS name, a.attidentity::text AS identity, d.adbin, d.adrelid,
                row_number() OVER (ORDER BY a.attnum)::int AS ordinal
              FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) s
        WHERE s.identity <> '' OR pg_get_expr(s.adbin, s.adrelid) ILIKE '%nextval(%') AS sequenced
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname || '.' || c.relname = ANY($1::text[])`,
    [tables],
  );
  // Fail closed: a table the catalog does not answer for (a quoted mixed-case name) cannot be judged.
  const found = new Set(rows.map((row) => row.name));
  const missing = tables.find((table) => !found.has(table));
  if (missing !== undefined)
    return `${missing} could not be looked up in the catalog, so its side effects are unknown`;
  for (const table of rows) {
    if (table.relkind === "f")
      return `${table.name} is a foreign table: the write would reach another server`;
    if (table.triggers > 0) return `${table.name} has triggers, whose side effects Latch cannot see`;
    if (table.rules > 0) return `${table.name} has rewrite rules, which may write elsewhere`;
    // An INSERT through a view takes the defaults of the table under it, which this query does not read.
    if (table.relkind === "v" && defaults !== "none")
      return `${table.name} is a view: the defaults (sequences) of the table under it are not checked`;
    const drawn = defaults === "none" ? undefined : sequenceDrawn(table.sequenced ?? [], defaults);
    if (drawn !== undefined)
      return `it would draw values from the sequence behind ${table.name}.${drawn.name} (serial or identity${drawn.why}), which a rollback does not give back`;
  }
  return undefined;
}

/** The first sequenced column the statement would take a value from the sequence for, and why when not obvious. */
function sequenceDrawn(
  columns: readonly SequencedColumn[],
  defaults: "all" | SuppliedColumns,
): { readonly name: string; readonly why: string } | undefined {
  for (const column of columns) {
    if (defaults === "all") return { name: column.name, why: "" };
    const given = Array.isArray(defaults.columns)
      ? defaults.columns.includes(column.name) && !defaults.defaulted.has(column.name)
      : column.ordinal <= (defaults.columns as { leading: number }).leading &&
        !defaults.defaultedAt.has(column.ordinal - 1);
    if (!given) return { name: column.name, why: ": not given a value in every row" };
    // OVERRIDING USER VALUE throws the given value away for an identity column and takes the sequence's.
    if (column.identity !== "" && defaults.overriding === "user")
      return { name: column.name, why: ": OVERRIDING USER VALUE ignores the value given" };
    // GENERATED ALWAYS takes a given value only with OVERRIDING SYSTEM VALUE; without it the INSERT fails.
    if (column.identity === "a" && defaults.overriding !== "system")
      return { name: column.name, why: ": GENERATED ALWAYS without OVERRIDING SYSTEM VALUE" };
  }
  return undefined;
}
