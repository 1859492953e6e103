import { parseSql } from "../../sql/postgres/load-parser.js";

/**
 * Which columns a plain INSERT gives a value in every row, read from the parse tree, so a preview can tell an
 * INSERT that draws from a serial or identity column's sequence (a rollback does not give the number back)
 * from one that supplies the column itself (`INSERT INTO events (id, what) VALUES (7, 'x')`: no sequence is
 * touched). Pure. Anything it does not read exactly (a WITH, several statements, a SELECT whose width is not
 * plain, `DEFAULT` in an ON CONFLICT update) comes back undefined, and the runner treats the INSERT as drawing
 * every default, as before.
 */

export interface SuppliedColumns {
  /**
   * The target list (`INSERT INTO t (a, b)`: names as PostgreSQL folds them), or without one the number of
   * leading columns, in table order, that every row fills.
   */
  readonly columns: readonly string[] | { readonly leading: number };
  /** Columns named in the target list that some VALUES row sets to DEFAULT: those still draw their default. */
  readonly defaulted: ReadonlySet<string>;
  /** Positions (0-based) some VALUES row sets to DEFAULT when there is no target list. */
  readonly defaultedAt: ReadonlySet<number>;
  /** `OVERRIDING SYSTEM VALUE` (identity ALWAYS takes the given value) or `USER VALUE` (identity ignores it). */
  readonly overriding: "system" | "user" | undefined;
}

type Node = Record<string, unknown>;

const child = (node: unknown, key: string): Node | undefined => {
  const value = (node as Node | undefined)?.[key];
  return typeof value === "object" && value !== null ? (value as Node) : undefined;
};
const list = (node: unknown, key: string): Node[] => {
  const value = (node as Node | undefined)?.[key];
  return Array.isArray(value) ? (value as Node[]) : [];
};

export function suppliedColumns(text: string): SuppliedColumns | undefined {
  const parsed = parseSql(text);
  if (!parsed.ok || parsed.statements.length !== 1) return undefined;
  const insert = child(parsed.statements[0]!.node, "InsertStmt");
  if (insert === undefined || insert.withClause !== undefined) return undefined;
  // ON CONFLICT ... DO UPDATE SET id = DEFAULT draws the default for the rows that conflict.
  if (JSON.stringify(insert.onConflictClause ?? null).includes('"SetToDefault"')) return undefined;
  const select = child(insert.selectStmt, "SelectStmt");
  if (select === undefined) return undefined; // DEFAULT VALUES: every column takes its default
  const names = list(insert, "cols").map((target) => child(target, "ResTarget")?.name);
  if (names.some((name) => typeof name !== "string")) return undefined;
  const rows = rowsOf(select, names.length > 0);
  if (rows === undefined) return undefined;
  const defaulted = new Set<string>();
  const defaultedAt = new Set<number>();
  let leading = Number.POSITIVE_INFINITY;
  for (const row of rows) {
    leading = Math.min(leading, row.width);
    for (const at of row.defaults) {
      if (names.length === 0) defaultedAt.add(at);
      else if (names[at] !== undefined) defaulted.add(names[at] as string);
    }
  }
  const override = insert.override;
  return {
    columns: names.length > 0 ? (names as string[]) : { leading: Number.isFinite(leading) ? leading : 0 },
    defaulted,
    defaultedAt,
    overriding:
      override === "OVERRIDING_SYSTEM_VALUE"
        ? "system"
        : override === "OVERRIDING_USER_VALUE"
          ? "user"
          : undefined,
  };
}

/**
 * Each row's width and the positions it sets to DEFAULT. DEFAULT is only allowed in the INSERT's own top-level
 * VALUES; any other source fills every named column. Without a target list the width must be plain (no `*`,
 * no UNION), or it is undefined.
 */
function rowsOf(select: Node, named: boolean): { width: number; defaults: number[] }[] | undefined {
  const values = select.op === "SETOP_NONE" ? list(select, "valuesLists") : [];
  if (values.length > 0) {
    return values.map((row) => {
      const items = list(child(row, "List"), "items");
      const defaults: number[] = [];
      items.forEach((item, at) => {
        if (item.SetToDefault !== undefined) defaults.push(at);
      });
      return { width: items.length, defaults };
    });
  }
  if (named) return [];
  if (select.op !== "SETOP_NONE") return undefined;
  const targets = list(select, "targetList");
  if (targets.length === 0 || JSON.stringify(targets).includes('"A_Star"')) return undefined;
  return [{ width: targets.length, defaults: [] }];
}
