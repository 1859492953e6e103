/**
 * Where a statement uses masked columns, read from the real parser's tree: straight into the output (masked by
 * provenance), inside an expression or copied elsewhere (derived: only content detection can catch it), or in a
 * predicate (WHERE, JOIN, GROUP BY, ORDER BY... where it can be probed one guess at a time), or read by COPY.
 *
 * Name resolution is deliberately generous: an unqualified or unresolvable reference counts as a masked column
 * if any referenced table has a masked column of that name, and output aliases of masked values are followed,
 * so a doubt always lands on the side of "uses a masked column".
 */
import {
  dedupeUses,
  MaskedColumns,
  MaskedUseTally,
  type MaskedColumnUse as NeutralMaskedColumnUse,
  type MaskingFacts as NeutralMaskingFacts,
} from "../masked-column-uses.js";
import { parseSql } from "./load-parser.js";

export type MaskedUsePlace = "output" | "derived" | "predicate" | "copy";

/** A masked column use; the column is "schema.table.column". */
export type MaskedColumnUse = NeutralMaskedColumnUse<MaskedUsePlace>;

export type MaskingFacts = NeutralMaskingFacts<MaskedUsePlace>;

/** Keys whose subtree is a predicate or an ordering: a masked column there can be probed. */
const PREDICATE_KEYS = new Set([
  "whereClause",
  "havingClause",
  "groupClause",
  "sortClause",
  "distinctClause",
  "quals",
  "partitionClause",
  "orderClause",
  "windowClause",
  "limitCount",
  "limitOffset",
  "joinUsingAlias",
  "onConflictClause",
  "mergeJoinCondition",
]);

/** Statements that copy values somewhere else: everything they read counts as derived. */
const COPYING_STATEMENTS = new Set([
  "InsertStmt",
  "UpdateStmt",
  "MergeStmt",
  "CreateTableAsStmt",
  "ViewStmt",
  "DeclareCursorStmt",
]);

/** Statements whose body is SQL text the parser does not open (DO blocks, function bodies). */
const OPAQUE_BODY_STATEMENTS = new Set(["DoStmt", "CreateFunctionStmt"]);

type Place = "output" | "derived" | "predicate";

/** The tally of one statement (tables: alias or table name -> qualified table, for every RangeVar). */
type Analysis = MaskedUseTally<MaskedUsePlace>;

/**
 * Masked column uses of every statement in `text`. `maskedColumns` are qualified lower-case names.
 * Needs the parser loaded (loadSqlParser); when it is not, or the text does not parse, the answer is not ok.
 */
export function findMaskedColumnUses(text: string, maskedColumns: Iterable<string>): MaskingFacts {
  const masked = new MaskedColumns(maskedColumns);
  if (masked.byTable.size === 0) return { ok: true, uses: [] };
  const parsed = parseSql(text);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  const uses: MaskedColumnUse[] = [];
  for (const statement of parsed.statements) {
    const analysis: Analysis = new MaskedUseTally(masked);
    collectTables(statement.node, analysis);
    // Two passes: the first finds aliases of masked values, the second sees references to those aliases.
    walk(statement.node, "output", analysis);
    const taintedAfterFirst = analysis.tainted.size;
    if (taintedAfterFirst > 0) {
      analysis.uses.length = 0;
      walk(statement.node, "output", analysis);
    }
    uses.push(...dedupeUses(analysis.uses));
  }
  return { ok: true, uses };
}

function qualifiedTable(rangeVar: Record<string, unknown>): string {
  const schema = typeof rangeVar.schemaname === "string" ? rangeVar.schemaname : "public";
  return `${schema}.${String(rangeVar.relname)}`.toLowerCase();
}

function collectTables(node: unknown, analysis: Analysis): void {
  if (Array.isArray(node)) {
    for (const item of node) collectTables(item, analysis);
    return;
  }
  if (node === null || typeof node !== "object") return;
  for (const [key, child] of Object.entries(node)) {
    // A RangeVar is wrapped ({RangeVar: {...}}) in FROM lists but bare as the `relation` of INSERT/UPDATE/...
    const isRangeVar =
      key === "RangeVar" ||
      (key === "relation" && child !== null && typeof child === "object" && "relname" in child);
    if (isRangeVar && child !== null && typeof child === "object") {
      const rangeVar = child as Record<string, unknown>;
      const table = qualifiedTable(rangeVar);
      analysis.tables.set(String(rangeVar.relname).toLowerCase(), table);
      analysis.tables.set(table, table);
      const alias = (rangeVar.alias as { aliasname?: string } | undefined)?.aliasname;
      if (alias !== undefined) analysis.tables.set(alias.toLowerCase(), table);
      if (analysis.masked.byTable.has(table)) analysis.maskedTables.add(table);
    }
    collectTables(child, analysis);
  }
}

/** Walks any node; `place` is what a masked column found here would be. */
function walk(node: unknown, place: Place, analysis: Analysis): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, place, analysis);
    return;
  }
  if (node === null || typeof node !== "object") return;
  for (const [key, child] of Object.entries(node as Record<string, unknown>)) {
    visit(key, child, place, analysis);
  }
}

function visit(key: string, child: unknown, place: Place, analysis: Analysis): void {
  if (child === null || typeof child !== "object") return;
  const body = child as Record<string, unknown>;
  switch (key) {
    case "ColumnRef":
      // Reached other than as a whole output column: it sits inside an expression.
      reference(body, place === "output" ? "derived" : place, analysis);
      return;
    case "SelectStmt":
      select(body, place, analysis);
      return;
    case "SubLink":
      // A scalar subquery's column has no table provenance in the RowDescription.
      walk(body, place === "output" ? "derived" : place, analysis);
      return;
    case "CopyStmt":
      copy(body, analysis);
      return;
    default:
      break;
  }
  if (COPYING_STATEMENTS.has(key)) {
    copyingStatement(body, analysis);
    return;
  }
  if (OPAQUE_BODY_STATEMENTS.has(key)) {
    opaqueBody(body, analysis);
    return;
  }
  if (key === "usingClause" && Array.isArray(child)) {
    for (const item of child) {
      const name = (item as { String?: { sval?: string } }).String?.sval;
      if (name !== undefined) analysis.add(columnsNamed(name.toLowerCase(), analysis), "predicate");
    }
    return;
  }
  walk(child, PREDICATE_KEYS.has(key) ? "predicate" : place, analysis);
}

function select(body: Record<string, unknown>, place: Place, analysis: Analysis): void {
  const setOperation = body.op !== undefined && body.op !== "SETOP_NONE";
  for (const [key, child] of Object.entries(body)) {
    if (key === "larg" || key === "rarg") {
      // UNION/INTERSECT/EXCEPT outputs lose their table provenance.
      select(child as Record<string, unknown>, place === "output" ? "derived" : place, analysis);
    } else if (key === "targetList" && !setOperation) {
      targets(child, place, analysis);
    } else {
      visit(key, child, place, analysis);
    }
  }
}

/** A target that is a bare column reference keeps its provenance; anything else is derived. */
function targets(list: unknown, place: Place, analysis: Analysis): void {
  if (!Array.isArray(list)) return;
  for (const item of list) {
    const target = (item as { ResTarget?: Record<string, unknown> }).ResTarget;
    if (target === undefined) continue;
    const value = target.val as Record<string, unknown> | undefined;
    const before = analysis.uses.length;
    if (value !== undefined && "ColumnRef" in value) {
      reference(value.ColumnRef as Record<string, unknown>, place, analysis);
    } else {
      walk(value, place === "output" ? "derived" : place, analysis);
    }
    for (const [key, child] of Object.entries(target)) if (key !== "val") walk(child, place, analysis);
    const name = typeof target.name === "string" ? target.name.toLowerCase() : undefined;
    if (name !== undefined && analysis.uses.length > before) {
      const carried = analysis.tainted.get(name) ?? new Set<string>();
      for (const use of analysis.uses.slice(before)) carried.add(use.column);
      analysis.tainted.set(name, carried);
    }
  }
}

function copyingStatement(body: Record<string, unknown>, analysis: Analysis): void {
  for (const [key, child] of Object.entries(body)) {
    if (key === "returningList") targets(child, "output", analysis);
    else if (key === "returningClause") targets((child as { exprs?: unknown }).exprs, "output", analysis);
    else visit(key, child, "derived", analysis);
  }
}

/** COPY of a table or query holding masked columns: COPY rows carry no provenance, so it is refused. */
function copy(body: Record<string, unknown>, analysis: Analysis): void {
  if (body.is_from === true) return;
  const relation = body.relation as Record<string, unknown> | undefined;
  if (relation !== undefined) {
    const table = qualifiedTable(relation);
    const maskedNames = analysis.masked.byTable.get(table);
    if (maskedNames === undefined) return;
    const listed = Array.isArray(body.attlist)
      ? body.attlist.map((item) =>
          String((item as { String?: { sval?: string } }).String?.sval).toLowerCase(),
        )
      : [...maskedNames];
    analysis.add(
      listed.filter((name) => maskedNames.has(name)).map((name) => `${table}.${name}`),
      "copy",
    );
    return;
  }
  const before = analysis.uses.length;
  walk(body.query, "output", analysis);
  const found = analysis.uses.splice(before);
  analysis.add(
    found.map((use) => use.column),
    "copy",
  );
}

/** DO blocks and function bodies are text: any masked column name appearing in them counts as derived. */
function opaqueBody(body: Record<string, unknown>, analysis: Analysis): void {
  const text = JSON.stringify(body).toLowerCase();
  for (const [name, columns] of analysis.masked.byName) {
    if (new RegExp(`\\b${name.replace(/[^a-z0-9_]/g, "\\$&")}\\b`).test(text))
      analysis.add(columns, "derived");
  }
}

function reference(columnRef: Record<string, unknown>, place: Place, analysis: Analysis): void {
  const fields = Array.isArray(columnRef.fields) ? columnRef.fields : [];
  const names: string[] = [];
  let star = false;
  for (const field of fields) {
    const value = (field as { String?: { sval?: string } }).String?.sval;
    if (value !== undefined) names.push(value.toLowerCase());
    else if ("A_Star" in (field as object)) star = true;
  }
  if (star) {
    // `*` / `t.*` in the output expands to columns with provenance; inside an expression it is a whole row.
    const tables = names.length === 0 ? [...analysis.maskedTables] : tablesFor(names.join("."), analysis);
    analysis.add(allMasked(tables, analysis), place);
    return;
  }
  if (names.length === 0) return;
  const column = names[names.length - 1]!;
  const qualifier = names.slice(0, -1).join(".");
  const found = new Set<string>();
  if (qualifier === "") {
    for (const c of columnsNamed(column, analysis)) found.add(c);
    // A bare table name or alias is a whole-row reference (row_to_json(u)): it carries every column.
    const wholeRow = analysis.tables.get(column);
    if (wholeRow !== undefined) {
      for (const c of allMasked([wholeRow], analysis)) found.add(c);
      if (place === "output" && found.size > 0) place = "derived";
    }
  } else {
    const tables = tablesFor(qualifier, analysis);
    if (tables.length > 0) {
      for (const table of tables) {
        if (analysis.masked.byTable.get(table)?.has(column)) found.add(`${table}.${column}`);
      }
    } else {
      // A CTE or subquery alias: resolve by name, generously.
      for (const c of columnsNamed(column, analysis)) found.add(c);
    }
    // `t.u` could also be a whole row of table u in schema t... only with three parts; two parts is qualifier.col.
    const tainted = analysis.tainted.get(column);
    if (tainted !== undefined) for (const c of tainted) found.add(c);
  }
  analysis.add(found, place);
}

function tablesFor(qualifier: string, analysis: Analysis): string[] {
  const table = analysis.tables.get(qualifier);
  return table === undefined ? [] : [table];
}

/** Masked columns called `name` in any table the statement reads, plus output aliases carrying masked values. */
function columnsNamed(name: string, analysis: Analysis): string[] {
  const found: string[] = [];
  for (const column of analysis.masked.byName.get(name) ?? []) {
    if (analysis.maskedTables.has(column.slice(0, column.lastIndexOf(".")))) found.push(column);
  }
  for (const column of analysis.tainted.get(name) ?? []) found.push(column);
  return found;
}

function allMasked(tables: readonly string[], analysis: Analysis): string[] {
  return tables.flatMap((table) =>
    [...(analysis.masked.byTable.get(table) ?? [])].map((c) => `${table}.${c}`),
  );
}
