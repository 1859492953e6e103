import type pg from "pg";

/**
 * Catalog facts that decide whether a rolled-back run stays inside its transaction, read on the preview's own
 * connection before the statement runs: a sequence default or identity column (an INSERT, a MERGE or an
 * UPDATE ... DEFAULT draws from the sequence, and a rollback does not give the number back), a user trigger
 * (its body may do anything), a foreign table (postgres_fdw writes to another server) or a rule.
 */
export async function catalogRefusal(
  client: pg.Client,
  tables: readonly string[],
  drawsDefaults: boolean,
): Promise<string | undefined> {
  const { rows } = await client.query<{
    name: string;
    relkind: string;
    triggers: number;
    rules: number;
    sequenced: string[] | null;
  }>(
    `SELECT n.nspname || '.' || c.relname AS name, c.relkind::text AS relkind,
       (SELECT count(*)::int FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal) AS triggers,
       (SELECT count(*)::int FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN') AS rules,
       (SELECT array_agg(a.attname::text) FROM pg_attribute a LEFT JOIN pg_attrdef d
          ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) ILIKE '%nextval(%')) AS sequenced
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
    if (drawsDefaults && table.sequenced !== null && table.sequenced.length > 0)
      return `it would draw values from the sequence behind ${table.name}.${table.sequenced[0]} (serial or identity), which a rollback does not give back`;
  }
  return undefined;
}
