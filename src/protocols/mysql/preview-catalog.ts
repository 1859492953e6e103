/**
 * Catalog facts that decide whether a rolled-back run stays inside its transaction, read on the preview's own
 * connection (the session's credential) before the statement runs: a table that is not InnoDB (MyISAM, Aria,
 * MEMORY, CONNECT, FEDERATED keep their writes whatever the transaction does), a view or a MariaDB sequence,
 * a table with triggers (their bodies may do anything), and for INSERT/REPLACE an AUTO_INCREMENT column (the
 * values drawn are not given back by a rollback). information_schema.TRIGGERS lists a table's triggers only
 * to a user with the TRIGGER privilege on it: without it the answer "no triggers" means nothing, so the
 * preview is refused (fail closed). The privilege is read from SHOW GRANTS, the only place that also lists
 * what the session's active role grants (information_schema's privilege views leave role grants out).
 */
import type { AdminResult } from "./admin-client.js";

export interface CatalogFacts {
  /** Why the preview must not run; undefined when it may. */
  readonly refusal?: string;
  /** Tables whose foreign keys cascade from a written table: their rows are not in the affected count. */
  readonly cascades: readonly string[];
}

/** A string as a hex literal: table names may hold any character, and nothing of them is parsed as SQL. */
export function hexText(text: string): string {
  return `CONVERT(X'${Buffer.from(text, "utf8").toString("hex")}' USING utf8mb4)`;
}

export async function catalogFacts(
  query: (sql: string) => Promise<AdminResult>,
  tables: readonly string[],
  drawsAutoIncrement: boolean,
): Promise<CatalogFacts> {
  const { rows } = await query(
    `SELECT LOWER(CONCAT(t.TABLE_SCHEMA, '.', t.TABLE_NAME)), t.TABLE_TYPE, IFNULL(t.ENGINE, ''),
       (SELECT COUNT(*) FROM information_schema.TRIGGERS g
         WHERE g.EVENT_OBJECT_SCHEMA = t.TABLE_SCHEMA AND g.EVENT_OBJECT_TABLE = t.TABLE_NAME),
       (SELECT MIN(c.COLUMN_NAME) FROM information_schema.COLUMNS c
         WHERE c.TABLE_SCHEMA = t.TABLE_SCHEMA AND c.TABLE_NAME = t.TABLE_NAME AND c.EXTRA LIKE '%auto_increment%'),
       (SELECT GROUP_CONCAT(DISTINCT CONCAT(r.CONSTRAINT_SCHEMA, '.', r.TABLE_NAME))
          FROM information_schema.REFERENTIAL_CONSTRAINTS r
         WHERE r.UNIQUE_CONSTRAINT_SCHEMA = t.TABLE_SCHEMA AND r.REFERENCED_TABLE_NAME = t.TABLE_NAME
           AND (r.DELETE_RULE NOT IN ('RESTRICT', 'NO ACTION') OR r.UPDATE_RULE NOT IN ('RESTRICT', 'NO ACTION'))),
       t.TABLE_SCHEMA, t.TABLE_NAME
     FROM information_schema.TABLES t
     WHERE LOWER(CONCAT(t.TABLE_SCHEMA, '.', t.TABLE_NAME)) IN (${tables.map(hexText).join(", ")})`,
  );
  const grants = (await query("SHOW GRANTS")).rows.map((row) => row[0] ?? "");
  const cascades = new Set<string>();
  // Fail closed: a table the catalog does not answer for (no privilege, a case-sensitive name) cannot be judged.
  const found = new Set(rows.map((row) => row[0]));
  const missing = tables.find((table) => !found.has(table));
  if (missing !== undefined)
    return {
      refusal: `${missing} could not be looked up in information_schema, so its engine and triggers are unknown`,
      cascades: [],
    };
  const refuse = (refusal: string): CatalogFacts => ({ refusal, cascades: [] });
  for (const [name, type, engine, triggers, autoColumn, children, schema, table] of rows) {
    if (type === "VIEW") return refuse(`${name} is a view; preview writes to its base table`);
    if (type === "SEQUENCE") return refuse(`${name} is a sequence, which a rollback does not move back`);
    if (engine?.toLowerCase() !== "innodb")
      return refuse(
        `${name} uses the ${engine || "unknown"} engine, which is not transactional: a rollback would not undo the write`,
      );
    if (!grantsTrigger(grants, schema ?? "", table ?? ""))
      return refuse(
        `the session's user cannot see whether ${name} has triggers (it lacks the TRIGGER privilege), so their side effects are unknown`,
      );
    if (triggers !== "0") return refuse(`${name} has triggers, whose side effects Latch cannot see`);
    if (drawsAutoIncrement && autoColumn !== null)
      return refuse(
        `it would draw AUTO_INCREMENT values for ${name}.${autoColumn}, which a rollback does not give back`,
      );
    for (const child of children?.split(",") ?? []) if (child !== "") cascades.add(child.toLowerCase());
  }
  return { cascades: [...cascades].sort() };
}

const OBJECT_PART = "(\\*|`(?:[^`]|``)*`)";
const GRANT_LINE = new RegExp(
  `^GRANT\\s+(.+?)\\s+ON\\s+(?:TABLE\\s+)?${OBJECT_PART}\\.${OBJECT_PART}\\s+TO\\s`,
  "is",
);

/**
 * Whether SHOW GRANTS lines give the TRIGGER privilege (or ALL PRIVILEGES) on `schema`.`table`: globally, on
 * the schema or on the table. Pure; a line it cannot read counts as granting nothing (fail closed).
 */
export function grantsTrigger(grants: readonly string[], schema: string, table: string): boolean {
  const unquote = (part: string) => (part === "*" ? "*" : part.slice(1, -1).replaceAll("``", "`"));
  return grants.some((line) => {
    const match = GRANT_LINE.exec(line);
    if (match === null) return false;
    // Column lists ("UPDATE (a, b)") are cut first: their commas are not privilege separators.
    const privileges = match[1]!.replace(/\([^)]*\)/g, "").toUpperCase();
    if (!/(^|,)\s*(TRIGGER|ALL PRIVILEGES|ALL)\s*(,|$)/.test(privileges)) return false;
    const [db, name] = [unquote(match[2]!), unquote(match[3]!)];
    if (db === "*") return name === "*";
    return (
      db.toLowerCase() === schema.toLowerCase() &&
      (name === "*" || name.toLowerCase() === table.toLowerCase())
    );
  });
}
