/**
 * One handler per parsed statement kind (the top-level key of the sqlparser-rs tree). A kind not in this table
 * is refused as unsupported: the table is an allow-list.
 */
import { type WalkTarget, walk } from "./tree-walk.js";
import {
  isNode,
  type Node,
  nameParts,
  type StatementFacts,
  tableName,
  type WalkScope,
} from "./walk-facts.js";

export type StatementHandler = (fields: Node, scope: WalkScope, facts: StatementFacts) => string;

const target = (action: string): WalkTarget => ({ action, written: true });

const handleQuery: StatementHandler = (fields, scope, facts) => {
  walk(fields, scope, facts);
  return "sql:select";
};

const handleInsert: StatementHandler = (fields, scope, facts) => {
  const table = tableName(nameParts(isNode(fields.table) ? fields.table.TableName : undefined), scope, facts);
  if (table !== undefined) {
    facts.addTable("sql:insert", table, true);
    // REPLACE deletes the rows it collides with; ON DUPLICATE KEY UPDATE updates them.
    if (fields.replace_into === true) facts.addTable("sql:delete", table, true);
    if (fields.on !== undefined && fields.on !== null && fields.on !== "None")
      facts.addTable("sql:update", table, true);
  }
  walk(fields.source, scope, facts);
  walk(fields.on, scope, facts);
  walk(fields.assignments, scope, facts);
  return "sql:insert";
};

const handleUpdate: StatementHandler = (fields, scope, facts) => {
  const table = isNode(fields.table) ? fields.table : {};
  walk(table.relation, scope, facts, target("sql:update"));
  walk(table.joins, scope, facts);
  walk(fields.from, scope, facts);
  walk(fields.assignments, scope, facts);
  walk(fields.selection, scope, facts);
  if (fields.selection === undefined || fields.selection === null) facts.hasWhere = false;
  return "sql:update";
};

const handleDelete: StatementHandler = (fields, scope, facts) => {
  const named = Array.isArray(fields.tables) ? fields.tables : [];
  const from = isNode(fields.from) ? (fields.from.WithFromKeyword ?? fields.from.WithoutKeyword) : undefined;
  // DELETE t FROM t JOIN u / DELETE a FROM t a: a target names a table (or alias) of the FROM list.
  const aliases = fromTables(from);
  for (const parts of named) {
    const target = nameParts(parts);
    const key = target?.length === 1 ? target[0]!.toLowerCase() : undefined;
    const real = key === undefined ? target : aliases.get(key);
    if (real === undefined) {
      facts.refuse("a DELETE target that is not a table of its FROM list");
      continue;
    }
    const table = tableName(real, scope, facts);
    if (table !== undefined) facts.addTable("sql:delete", table, true);
  }
  walk(
    from,
    scope,
    facts,
    named.length === 0 ? target("sql:delete") : { action: "sql:select", written: false },
  );
  walk(fields.using, scope, facts);
  walk(fields.selection, scope, facts);
  if (fields.selection === undefined || fields.selection === null) facts.hasWhere = false;
  return "sql:delete";
};

/** Alias (or unqualified table name) -> table name parts, for every table factor of a FROM list. */
function fromTables(from: unknown): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
      return;
    }
    if (!isNode(value)) return;
    const table = value.Table;
    if (isNode(table)) {
      const parts = nameParts(table.name);
      if (parts !== undefined) {
        const alias = isNode(table.alias) && isNode(table.alias.name) ? table.alias.name.value : undefined;
        if (typeof alias === "string") found.set(alias.toLowerCase(), parts);
        else found.set(parts[parts.length - 1]!.toLowerCase(), parts);
      }
    }
    for (const child of Object.values(value)) visit(child);
  };
  visit(from);
  return found;
}

const ddl: StatementHandler = (fields, scope, facts) => {
  for (const key of ["name", "table_name"]) {
    const parts = nameParts(fields[key]);
    if (parts !== undefined) {
      const table = tableName(parts, scope, facts);
      if (table !== undefined) facts.addTable("sql:ddl", table, true);
    }
  }
  if (Array.isArray(fields.names))
    for (const parts of fields.names) {
      const table = tableName(nameParts(parts), scope, facts);
      if (table !== undefined) facts.addTable("sql:ddl", table, true);
    }
  // CREATE TABLE ... SELECT, CREATE VIEW ... AS SELECT: what they read is checked too.
  walk(fields.query, scope, facts);
  walk(fields.columns, scope, facts);
  return "sql:ddl";
};

const handleTruncate: StatementHandler = (fields, scope, facts) => {
  for (const entry of Array.isArray(fields.table_names) ? fields.table_names : []) {
    const table = tableName(nameParts(isNode(entry) ? entry.name : undefined), scope, facts);
    if (table !== undefined) facts.addTable("sql:truncate", table, true);
  }
  return "sql:truncate";
};

const fixed =
  (verb: string): StatementHandler =>
  () =>
    verb;

const handleExplain: StatementHandler = (fields, scope, facts) => {
  if (fields.analyze === true) {
    facts.refuse("EXPLAIN ANALYZE runs the statement; run the statement itself");
    return "sql:explain";
  }
  walk(fields.statement, scope, facts);
  return "sql:explain";
};

const handleExplainTable: StatementHandler = (fields, scope, facts) => {
  const table = tableName(nameParts(fields.table_name), scope, facts);
  if (table !== undefined) facts.addTable("sql:select", table, false);
  return "sql:session";
};

const handleUse: StatementHandler = (fields, _scope, facts) => {
  const parts = isNode(fields) ? nameParts(fields.Object ?? fields.Database) : undefined;
  if (parts?.length !== 1) {
    facts.refuse("USE of something other than a database");
    return "sql:session";
  }
  facts.useDatabase = parts[0]!;
  return "sql:session";
};

const handleCall: StatementHandler = (fields, scope, facts) => {
  const name = nameParts(fields.name)?.join(".").toLowerCase() ?? "";
  facts.add("sql:call", { type: "Function", name });
  walk(fields.args, scope, facts);
  return "sql:call";
};

const handleKill: StatementHandler = (_fields, _scope, facts) => {
  facts.add("sql:admin_function", { type: "Function", name: "kill" });
  return "sql:admin_function";
};

export const STATEMENT_HANDLERS: Readonly<Record<string, StatementHandler>> = {
  Query: handleQuery,
  Insert: handleInsert,
  Update: handleUpdate,
  Delete: handleDelete,
  CreateTable: ddl,
  CreateView: ddl,
  CreateIndex: ddl,
  CreateDatabase: ddl,
  CreateSchema: ddl,
  AlterTable: ddl,
  AlterView: ddl,
  Drop: ddl,
  RenameTable: ddl,
  Truncate: handleTruncate,
  Explain: handleExplain,
  ExplainTable: handleExplainTable,
  Use: handleUse,
  Call: handleCall,
  Kill: handleKill,
  Grant: fixed("sql:grant"),
  Revoke: fixed("sql:grant"),
  CreateRole: fixed("sql:grant"),
  DropRole: fixed("sql:grant"),
  CreateUser: fixed("sql:grant"),
  AlterUser: fixed("sql:grant"),
  StartTransaction: fixed("sql:session"),
  Commit: fixed("sql:session"),
  Rollback: fixed("sql:session"),
  Savepoint: fixed("sql:session"),
  ReleaseSavepoint: fixed("sql:session"),
  UnlockTables: fixed("sql:session"),
  LockTables: fixed("sql:lock"),
  ShowTables: fixed("sql:session"),
  ShowDatabases: fixed("sql:session"),
  ShowVariables: fixed("sql:session"),
  ShowStatus: fixed("sql:session"),
  ShowCollation: fixed("sql:session"),
  ShowCharset: fixed("sql:session"),
  ShowVariable: fixed("sql:session"),
  ShowColumns: fixed("sql:session"),
  ShowCreate: fixed("sql:session"),
  ShowFunctions: fixed("sql:session"),
  ShowSchemas: fixed("sql:session"),
  Flush: fixed("sql:maintenance"),
  Analyze: fixed("sql:maintenance"),
  OptimizeTable: fixed("sql:maintenance"),
};
