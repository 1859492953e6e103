/**
 * What a walk over one statement's parse tree accumulates, the context a walk carries down the tree, and the
 * small interface the statement handlers use to walk further. Kept apart from the walker so that the handlers
 * and the walker do not import each other.
 */
import type { Access, ResourceRef } from "../classification.js";
import { SqlAction } from "./statement-verbs.js";

/** A parse-tree node's fields, as libpg-query's JSON gives them (absent fields are default values). */
export type NodeFields = Readonly<Record<string, unknown>>;

/** CTE names visible at a point of the tree; an unqualified table name in scope is the CTE, not a table. */
export class CteScope {
  constructor(
    private readonly names: ReadonlySet<string>,
    private readonly parent: CteScope | undefined,
  ) {}

  has(name: string): boolean {
    return this.names.has(name) || (this.parent?.has(name) ?? false);
  }
}

/** Tables named in this part of the tree are the object of `action` (a DDL target, the table of LOCK...). */
export interface TargetRole {
  readonly action: string;
  readonly written: boolean;
}

export interface WalkContext {
  readonly scope: CteScope | undefined;
  readonly target: TargetRole | undefined;
  /** Inside EXPLAIN without ANALYZE: nothing runs, tables become sql:explain (functions may still be folded). */
  readonly planOnly: boolean;
  /** Inside the FROM of a SELECT ... FOR UPDATE/SHARE: every table read is also locked. */
  readonly lockReads: boolean;
  /** Schema of unqualified names (CREATE SCHEMA s CREATE TABLE t -> s.t); "public" elsewhere. */
  readonly defaultSchema: string;
}

export const ROOT_CONTEXT: WalkContext = {
  scope: undefined,
  target: undefined,
  planOnly: false,
  lockReads: false,
  defaultSchema: "public",
};

const CONNECTION: ResourceRef = { type: "Connection" };

export class StatementFacts {
  readonly accesses: Access[] = [];
  readonly tablesRead = new Set<string>();
  readonly tablesWritten = new Set<string>();
  /** Every table any access of this statement names (used to give EXPLAIN and COPY (query) their tables). */
  readonly tablesTouched = new Set<string>();
  readonly functions = new Set<string>();
  hasWhere = true;
  /** The classification looked at a constant's value: the normalized-text cache must not reuse it. */
  readsConstants = false;
  /** Set by the first (outermost) statement node. */
  verb: string | undefined;
  nodeType: string | undefined;
  unsupported: string | undefined;
  prepares: { readonly name: string; readonly inner: StatementFacts } | undefined;
  executes: string | undefined;
  deallocates: string | undefined;
  private readonly seen = new Set<string>();

  addConnection(ctx: WalkContext, action: string): void {
    // A plan-only EXPLAIN runs nothing: the EXPLAIN's own access stands for the inner statement.
    if (ctx.planOnly) return;
    this.push(action, CONNECTION);
  }

  addTable(ctx: WalkContext, action: string, name: string, written: boolean): void {
    this.tablesTouched.add(name);
    if (ctx.planOnly) {
      this.push(SqlAction.explain, { type: "Table", name });
      return;
    }
    if (written) this.tablesWritten.add(name);
    else if (action === SqlAction.select) this.tablesRead.add(name);
    this.push(action, { type: "Table", name });
  }

  addFunction(action: string, resourceName: string): void {
    this.push(action, { type: "Function", name: resourceName });
  }

  private push(action: string, resource: ResourceRef): void {
    const key = `${action}\u0000${resource.type}\u0000${"name" in resource ? resource.name : ""}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.accesses.push({ action, resource });
  }
}

/** What a statement handler may ask of the walker. */
export interface Walker {
  /** Walks any value (node, list, field struct) in `ctx`. */
  walk(value: unknown, ctx: WalkContext, facts: StatementFacts): void;
  /** Walks every field of `fields` except the named ones. */
  walkFieldsExcept(
    fields: NodeFields,
    skip: readonly string[],
    ctx: WalkContext,
    facts: StatementFacts,
  ): void;
  /** Walks a WITH clause and returns the scope its CTE names create for the rest of the statement. */
  walkWith(withClause: unknown, ctx: WalkContext, facts: StatementFacts): CteScope | undefined;
  /** Records a call of the function named by `funcname` (a list of String nodes) as `kind` demands. */
  recordFunction(funcname: unknown, facts: StatementFacts, asAction?: string): void;
  /** Walks a nested statement into fresh facts (PREPARE's inner statement). */
  walkDetached(statement: unknown, ctx: WalkContext): StatementFacts;
}

/** A handler classifies one statement node type and returns its primary action. */
export type StatementHandler = (
  fields: NodeFields,
  ctx: WalkContext,
  facts: StatementFacts,
  walker: Walker,
) => string;

export function fieldsOf(value: unknown): NodeFields | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as NodeFields)
    : undefined;
}

export function listOf(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

export function stringOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** The sval of each String node in a name list: [{String:{sval:"a"}}, {String:{sval:"b"}}] -> ["a","b"]. */
export function nameParts(list: unknown): string[] {
  const parts: string[] = [];
  for (const item of listOf(list)) {
    const sval = stringOf(fieldsOf(fieldsOf(item)?.String)?.sval);
    if (sval !== undefined) parts.push(sval);
  }
  return parts;
}

/** "schema.table" of a RangeVar's fields, as PostgreSQL resolves it for our purposes. */
export function tableName(rangeVar: NodeFields, ctx: WalkContext): string {
  const relname = stringOf(rangeVar.relname) ?? "";
  const schema = stringOf(rangeVar.schemaname);
  if (schema !== undefined) return `${schema}.${relname}`;
  // CREATE TEMP TABLE x lands in the session's temporary schema.
  if (rangeVar.relpersistence === "t") return `pg_temp.${relname}`;
  return `${ctx.defaultSchema}.${relname}`;
}
