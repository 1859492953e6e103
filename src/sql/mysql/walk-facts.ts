/** What a walk of one statement's tree collects, and the helpers handlers share. */
import type { Access } from "../classification.js";
import { DANGEROUS_FUNCTIONS, HARMLESS_FUNCTIONS } from "./function-lists.js";

export type Node = Record<string, unknown>;

export interface WalkScope {
  /** The database unqualified names resolve to ("" when none is selected: unqualified tables are refused). */
  readonly database: string;
  /** CTE names in scope (unqualified references to them are not tables). */
  readonly ctes: ReadonlySet<string>;
}

export class StatementFacts {
  verb: string | undefined;
  nodeType = "";
  readonly accesses: Access[] = [];
  readonly tablesRead = new Set<string>();
  readonly tablesWritten = new Set<string>();
  readonly functions = new Set<string>();
  hasWhere = true;
  /** A locking read (FOR UPDATE, FOR SHARE) somewhere in the statement. */
  locks = false;
  unsupported: string | undefined;
  /** Set when a statement changes the session's database (USE). */
  useDatabase: string | undefined;
  prepares: { name: string; inner: StatementFacts } | undefined;
  executes: string | undefined;
  deallocates: string | undefined;

  add(action: string, resource: Access["resource"]): void {
    if (this.accesses.some((a) => a.action === action && sameResource(a.resource, resource))) return;
    this.accesses.push({ action, resource });
  }

  addTable(action: string, table: string, written: boolean): void {
    this.add(action, { type: "Table", name: table });
    (written ? this.tablesWritten : this.tablesRead).add(table);
  }

  refuse(reason: string): void {
    this.unsupported ??= reason;
  }
}

function sameResource(a: Access["resource"], b: Access["resource"]): boolean {
  return a.type === b.type && (a.type === "Connection" || a.name === (b as { name: string }).name);
}

export function isNode(value: unknown): value is Node {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** ["db", "t"] from an ObjectName ([{ Identifier: { value } }, ...]). */
export function nameParts(name: unknown): string[] | undefined {
  if (!Array.isArray(name)) return undefined;
  const parts: string[] = [];
  for (const part of name) {
    const ident = isNode(part) ? (part.Identifier as Node | undefined) : undefined;
    const value = isNode(ident) ? ident.value : isNode(part) ? part.value : undefined;
    if (typeof value !== "string") return undefined;
    parts.push(value);
  }
  return parts;
}

/** "db.table", lower-cased; undefined (and the statement refused) when it cannot be resolved. */
export function tableName(
  parts: string[] | undefined,
  scope: WalkScope,
  facts: StatementFacts,
): string | undefined {
  if (parts === undefined || parts.length === 0 || parts.length > 2) {
    facts.refuse("a table name Latch cannot resolve");
    return undefined;
  }
  const [db, table] = parts.length === 2 ? [parts[0]!, parts[1]!] : [scope.database, parts[0]!];
  if (db === "") {
    facts.refuse(`table ${table} has no database: select one with the connection or qualify the name`);
    return undefined;
  }
  return `${db.toLowerCase()}.${table.toLowerCase()}`;
}

/** Classifies one function call by name (lower-cased, last part for db.fn). */
export function addFunction(parts: string[] | undefined, facts: StatementFacts): void {
  if (parts === undefined || parts.length === 0) {
    facts.refuse("a function name Latch cannot resolve");
    return;
  }
  const name = parts.map((p) => p.toLowerCase()).join(".");
  facts.functions.add(name);
  if (parts.length === 1 && HARMLESS_FUNCTIONS.has(name)) return;
  if (parts.length === 1 && DANGEROUS_FUNCTIONS.has(name)) {
    facts.add("sql:admin_function", { type: "Function", name });
    return;
  }
  // A stored function or UDF: it may write, run programs (sys_exec) or read files.
  facts.add("sql:function", { type: "Function", name });
}
