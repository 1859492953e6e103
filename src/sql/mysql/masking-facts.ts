/**
 * Where a MySQL statement uses masked columns, read from the real parser's tree (as for PostgreSQL,
 * sql/postgres/masking-facts.ts): straight into the output (masked by provenance: the column definition names
 * `<db>.<org_table>.<org_name>`), derived (inside an expression, a set operation, a derived table or CTE, or
 * copied elsewhere: the server reports no base-table provenance for those), or in a predicate.
 *
 * MySQL reports a derived table's, CTE's or view's own name as `org_table`, so unlike PostgreSQL a masked
 * column read through a derived table or CTE is derived. Name resolution is generous: an unqualified or
 * unresolvable reference counts as masked if any table the statement reads has a masked column of that name.
 * A statement the parser does not open (PREPARE, DO, ...) counts every masked column name in its text as derived.
 */
import {
  dedupeUses,
  MaskedColumns,
  MaskedUseTally,
  type MaskedColumnUse as NeutralMaskedColumnUse,
  type MaskingFacts as NeutralMaskingFacts,
} from "../masked-column-uses.js";
import { keywordRule } from "./keyword-statements.js";
import { parseMysql } from "./load-parser.js";
import { leadingWords, splitStatements } from "./statement-text.js";
import { isNode, type Node, nameParts } from "./walk-facts.js";

export type MaskedUsePlace = "output" | "derived" | "predicate";

/** A masked column use; the column is "db.table.column". */
export type MaskedColumnUse = NeutralMaskedColumnUse<MaskedUsePlace>;

export type MaskingFacts = NeutralMaskingFacts<MaskedUsePlace>;

/** Keys whose subtree filters, groups or orders: a masked column there can be probed one guess at a time. */
const PREDICATE_KEYS = new Set([
  "selection",
  "having",
  "group_by",
  "qualify",
  "sort_by",
  "order_by",
  "limit",
  "limit_clause",
  "offset",
  "named_window",
  "cluster_by",
  "distribute_by",
  "connect_by",
  "join_operator",
  "partition_by",
]);

/** Keys that hold names, not column references (tables, functions, aliases, variables, assignment targets). */
const NAME_KEYS = new Set([
  "span",
  "name",
  "alias",
  "variable",
  "target",
  "Table",
  "TableName",
  "ObjectName",
  "into",
]);

/** The tally of one statement; unqualified tables are in `database` (tables maps them to "db.table"). */
class Analysis extends MaskedUseTally<MaskedUsePlace> {
  constructor(
    masked: MaskedColumns,
    readonly database: string,
  ) {
    super(masked);
  }
}

/** Masked column uses of every statement in `text`; `maskedColumns` are lower-case "db.table.column". */
export function findMysqlMaskedColumnUses(
  text: string,
  database: string,
  maskedColumns: Iterable<string>,
): MaskingFacts {
  const masked = new MaskedColumns(maskedColumns);
  if (masked.byTable.size === 0) return { ok: true, uses: [] };
  const split = splitStatements(text);
  if (!split.ok) return { ok: false, reason: split.reason };
  const uses: MaskedColumnUse[] = [];
  for (const slice of split.statements) {
    const parsed = keywordRule(leadingWords(slice.code)) === undefined ? parseMysql(slice.code) : undefined;
    if (parsed === undefined || !parsed.ok || parsed.statements.length !== 1) {
      uses.push(...namesInText(slice.code, masked));
      continue;
    }
    const analysis = new Analysis(masked, database.toLowerCase());
    const statement = parsed.statements[0];
    collectTables(statement, analysis);
    walkStatement(statement, analysis);
    if (analysis.tainted.size > 0) {
      // Second pass: references to aliases of masked values (ORDER BY x, outer t.x) are now known.
      analysis.uses.length = 0;
      walkStatement(statement, analysis);
    }
    uses.push(...analysis.uses);
  }
  return { ok: true, uses: dedupeUses(uses) };
}

/** Statements whose literal is itself SQL (PREPARE ... FROM '...'), or a value worth keeping apart: exact text. */
const LITERAL_SENSITIVE = new Set(["PREPARE", "SET"]);

/**
 * findMysqlMaskedColumnUses behind a small LRU cache keyed by database and statement shape (literals blanked:
 * the analysis reads names and structure only), so a masked connection parses each shape once.
 */
export function createMaskedUseAnalyzer(
  maskedColumns: Iterable<string>,
  cacheSize = 2000,
): (text: string, database: string) => MaskingFacts {
  const columns = [...maskedColumns];
  const cache = new Map<string, MaskingFacts>();
  return (text, database) => {
    const split = splitStatements(text);
    if (!split.ok) return { ok: false, reason: split.reason };
    const byShape = split.statements.every((s) => !LITERAL_SENSITIVE.has(leadingWords(s.code, 1)[0] ?? ""));
    const key = `${database}\u0000${byShape ? split.statements.map((s) => s.shape).join("\u0000;") : `=${text}`}`;
    const hit = cache.get(key);
    if (hit !== undefined) {
      cache.delete(key);
      cache.set(key, hit);
      return hit;
    }
    const facts = findMysqlMaskedColumnUses(text, database, columns);
    cache.set(key, facts);
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
    return facts;
  };
}

function namesInText(code: string, masked: MaskedColumns): MaskedColumnUse[] {
  const lower = code.toLowerCase();
  const found: MaskedColumnUse[] = [];
  for (const [name, columns] of masked.byName) {
    const escaped = name.replace(/[^a-z0-9_]/g, "\\$&");
    if (new RegExp(`(?:^|[^a-z0-9_$])${escaped}(?:$|[^a-z0-9_$])`).test(lower))
      for (const column of columns) found.push({ column, place: "derived" });
  }
  return found;
}

function collectTables(node: unknown, analysis: Analysis): void {
  if (Array.isArray(node)) {
    for (const item of node) collectTables(item, analysis);
    return;
  }
  if (!isNode(node)) return;
  for (const [key, child] of Object.entries(node)) {
    if ((key === "Table" && isNode(child)) || key === "TableName") {
      const parts = nameParts(isNode(child) && key === "Table" ? child.name : child);
      if (parts !== undefined && parts.length > 0 && parts.length <= 2) {
        const lower = parts.map((part) => part.toLowerCase());
        const table = lower.length === 2 ? lower.join(".") : `${analysis.database}.${lower[0]}`;
        analysis.tables.set(lower[lower.length - 1]!, table);
        analysis.tables.set(table, table);
        const alias =
          isNode(child) && isNode(child.alias) && isNode(child.alias.name)
            ? child.alias.name.value
            : undefined;
        if (typeof alias === "string") analysis.tables.set(alias.toLowerCase(), table);
        if (analysis.masked.byTable.has(table)) analysis.maskedTables.add(table);
      }
    }
    if (key !== "span") collectTables(child, analysis);
  }
}

function walkStatement(statement: unknown, analysis: Analysis): void {
  if (!isNode(statement)) return;
  const [kind, fields] = Object.entries(statement)[0] ?? [];
  // Only a query's output keeps provenance; every other statement copies what it reads somewhere else.
  if (kind === "Query") query(fields, "output", analysis);
  else walkAny(fields, "derived", analysis);
}

const derivedOf = (place: MaskedUsePlace): MaskedUsePlace => (place === "output" ? "derived" : place);

function query(node: unknown, place: MaskedUsePlace, analysis: Analysis): void {
  if (!isNode(node)) return;
  for (const [key, child] of Object.entries(node)) {
    if (key === "with" && isNode(child) && Array.isArray(child.cte_tables)) {
      for (const cte of child.cte_tables) if (isNode(cte)) query(cte.query, derivedOf(place), analysis);
    } else if (key === "body") setExpression(child, place, analysis);
    else if (PREDICATE_KEYS.has(key)) walkAny(child, "predicate", analysis);
    else if (!NAME_KEYS.has(key)) walkAny(child, derivedOf(place), analysis);
  }
}

function setExpression(node: unknown, place: MaskedUsePlace, analysis: Analysis): void {
  if (!isNode(node)) return;
  if (isNode(node.Select)) select(node.Select, place, analysis);
  else if (isNode(node.Query)) query(node.Query, place, analysis);
  else if (isNode(node.SetOperation)) {
    // UNION/INTERSECT/EXCEPT outputs carry no org_table.
    setExpression(node.SetOperation.left, derivedOf(place), analysis);
    setExpression(node.SetOperation.right, derivedOf(place), analysis);
  } else walkAny(node, derivedOf(place), analysis);
}

function select(node: Node, place: MaskedUsePlace, analysis: Analysis): void {
  for (const [key, child] of Object.entries(node)) {
    if (key === "projection") targets(child, place, analysis);
    else if (key === "from") fromList(child, place, analysis);
    else if (PREDICATE_KEYS.has(key)) walkAny(child, "predicate", analysis);
    else if (!NAME_KEYS.has(key)) walkAny(child, derivedOf(place), analysis);
  }
}

function fromList(list: unknown, place: MaskedUsePlace, analysis: Analysis): void {
  if (!Array.isArray(list)) return;
  for (const item of list) {
    if (!isNode(item)) continue;
    relation(item.relation, place, analysis);
    if (Array.isArray(item.joins))
      for (const join of item.joins) {
        if (!isNode(join)) continue;
        relation(join.relation, place, analysis);
        walkAny(join.join_operator, "predicate", analysis);
      }
  }
}

function relation(node: unknown, place: MaskedUsePlace, analysis: Analysis): void {
  if (!isNode(node) || isNode(node.Table)) return;
  if (isNode(node.Derived)) {
    // A derived table's columns come back with the derived table's name as org_table: no provenance.
    query(node.Derived.subquery, derivedOf(place), analysis);
    return;
  }
  if (isNode(node.NestedJoin)) {
    fromList([node.NestedJoin.table_with_joins], place, analysis);
    return;
  }
  walkAny(node, derivedOf(place), analysis);
}

function targets(list: unknown, place: MaskedUsePlace, analysis: Analysis): void {
  if (!Array.isArray(list)) return;
  for (const item of list) {
    if (!isNode(item)) continue;
    if ("Wildcard" in item) {
      star(undefined, place, analysis);
      continue;
    }
    if (Array.isArray(item.QualifiedWildcard)) {
      star(qualifierOf(item.QualifiedWildcard[0]), place, analysis);
      continue;
    }
    const withAlias = isNode(item.ExprWithAlias) ? item.ExprWithAlias : undefined;
    const expression = withAlias === undefined ? item.UnnamedExpr : withAlias.expr;
    const before = analysis.uses.length;
    if (isColumnReference(expression)) walkAny(expression, place, analysis);
    else walkAny(expression, derivedOf(place), analysis);
    const alias = withAlias !== undefined && isNode(withAlias.alias) ? withAlias.alias.value : undefined;
    if (typeof alias === "string" && analysis.uses.length > before) {
      const carried = analysis.tainted.get(alias.toLowerCase()) ?? new Set<string>();
      for (const use of analysis.uses.slice(before)) carried.add(use.column);
      analysis.tainted.set(alias.toLowerCase(), carried);
    }
  }
}

function isColumnReference(expression: unknown): boolean {
  return (
    isNode(expression) && (isNode(expression.Identifier) || Array.isArray(expression.CompoundIdentifier))
  );
}

function qualifierOf(objectName: unknown): string | undefined {
  const parts = isNode(objectName) ? nameParts(objectName.ObjectName) : undefined;
  return parts?.map((part) => part.toLowerCase()).join(".");
}

/** `*` or `t.*`: at the top of a query the columns keep provenance; anywhere else they are derived. */
function star(qualifier: string | undefined, place: MaskedUsePlace, analysis: Analysis): void {
  const tables =
    qualifier === undefined
      ? [...analysis.maskedTables]
      : [analysis.tables.get(qualifier)].filter((t): t is string => t !== undefined);
  for (const table of tables)
    analysis.add(
      [...(analysis.masked.byTable.get(table) ?? [])].map((name) => `${table}.${name}`),
      place,
    );
}

function walkAny(node: unknown, place: MaskedUsePlace, analysis: Analysis): void {
  if (Array.isArray(node)) {
    for (const item of node) walkAny(item, place, analysis);
    return;
  }
  if (!isNode(node)) return;
  for (const [key, child] of Object.entries(node)) {
    if (NAME_KEYS.has(key) || child === null || typeof child !== "object") continue;
    if (key === "Identifier" && isNode(child) && typeof child.value === "string")
      reference([child.value], place, analysis);
    else if (key === "CompoundIdentifier" && Array.isArray(child)) {
      const names = child.map((part) => (isNode(part) ? part.value : undefined));
      if (names.every((name): name is string => typeof name === "string")) reference(names, place, analysis);
    } else if (
      key === "subquery" ||
      key === "Subquery" ||
      key === "source" ||
      key === "query" ||
      key === "Query"
    )
      query(child, place, analysis);
    else if (key === "Wildcard") star(undefined, place, analysis);
    else if (key === "QualifiedWildcard" && Array.isArray(child))
      star(qualifierOf(child[0]), place, analysis);
    else walkAny(child, PREDICATE_KEYS.has(key) ? "predicate" : place, analysis);
  }
}

function reference(names: readonly string[], place: MaskedUsePlace, analysis: Analysis): void {
  if (names.length === 0 || names[0]!.startsWith("@")) return; // user and system variables
  const lower = names.map((name) => name.toLowerCase());
  const column = lower[lower.length - 1]!;
  const qualifier = lower.slice(0, -1).join(".");
  const found = new Set<string>();
  const table = qualifier === "" ? undefined : analysis.tables.get(qualifier);
  if (table !== undefined) {
    if (analysis.masked.byTable.get(table)?.has(column)) found.add(`${table}.${column}`);
  } else {
    // Unqualified, or qualified by a CTE or derived table alias: every masked column of that name counts.
    for (const masked of analysis.masked.byName.get(column) ?? [])
      if (analysis.maskedTables.has(masked.slice(0, masked.lastIndexOf(".")))) found.add(masked);
  }
  for (const carried of analysis.tainted.get(column) ?? []) found.add(carried);
  analysis.add(found, place);
}
