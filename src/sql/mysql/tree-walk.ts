/**
 * The whole-tree walk under every handler: every table reference (`Table` factors) and every function call,
 * at any depth (subqueries, derived tables, CTEs, expressions), so nothing hides in a corner of the tree.
 */
import {
  addFunction,
  isNode,
  type Node,
  nameParts,
  type StatementFacts,
  tableName,
  type WalkScope,
} from "./walk-facts.js";

export interface WalkTarget {
  /** The action table references get (sql:select unless a handler says otherwise). */
  readonly action: string;
  readonly written: boolean;
}

const READ: WalkTarget = { action: "sql:select", written: false };

export function walk(
  value: unknown,
  scope: WalkScope,
  facts: StatementFacts,
  target: WalkTarget = READ,
): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, scope, facts, target);
    return;
  }
  if (!isNode(value)) return;
  let inner = scope;
  const ctes = cteNames(value);
  if (ctes.length > 0) inner = { ...scope, ctes: new Set([...scope.ctes, ...ctes]) };
  if (Array.isArray(value.locks) && value.locks.length > 0) facts.locks = true;
  if (isNode(value.into) && Array.isArray(value.projection))
    facts.refuse("SELECT ... INTO (variables or files) is not allowed through the gateway");
  for (const [key, child] of Object.entries(value)) {
    if (key === "Table" && isNode(child) && Array.isArray(child.name)) {
      tableReference(child, inner, facts, target);
      continue;
    }
    if (key === "Function" && isNode(child) && Array.isArray(child.name)) {
      addFunction(nameParts(child.name), facts);
      walk(child.args, inner, facts, READ);
      walk(child.over, inner, facts, READ);
      walk(child.filter, inner, facts, READ);
      continue;
    }
    if (key === "span") continue;
    walk(child, inner, facts, key === "query" || key === "subquery" ? READ : target);
  }
}

function tableReference(table: Node, scope: WalkScope, facts: StatementFacts, target: WalkTarget): void {
  const parts = nameParts(table.name);
  if (parts?.length === 1 && scope.ctes.has(parts[0]!.toLowerCase())) return;
  if (Array.isArray(table.args) || isNode(table.args)) facts.refuse("table functions are not supported");
  const name = tableName(parts, scope, facts);
  if (name !== undefined) facts.addTable(target.action, name, target.written);
}

function cteNames(node: Node): string[] {
  const withClause = node.with;
  if (!isNode(withClause) || !Array.isArray(withClause.cte_tables)) return [];
  const names: string[] = [];
  for (const cte of withClause.cte_tables) {
    const alias =
      isNode(cte) && isNode(cte.alias) && isNode(cte.alias.name) ? cte.alias.name.value : undefined;
    if (typeof alias === "string") names.push(alias.toLowerCase());
  }
  return names;
}
