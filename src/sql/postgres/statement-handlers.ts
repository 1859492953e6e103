/**
 * Statement node types whose classification depends on more than their type: queries and DML (CTE scope,
 * targets, WHERE), COPY (direction, file, program), EXPLAIN (ANALYZE or not), SET (which setting),
 * transaction control, PREPARE/EXECUTE/DEALLOCATE, CALL, CREATE FUNCTION (language) and DROP (object kind).
 *
 * Invariant (the normalized-text cache relies on it): no handler looks at the VALUE of a constant without
 * setting `facts.readsConstants`. libpg-query's normalize replaces constants with $n, and two texts that differ
 * only there must classify identically unless the statement says otherwise. So EXPLAIN (ANALYZE false) counts as
 * ANALYZE, and SET ROLE is sql:set_role whatever the role; only search_path changes (setting-changes.ts) look.
 */
import { pgSettingsSetConfig, setStatementValues, settingChangeAction } from "./setting-changes.js";
import { SqlAction } from "./statement-verbs.js";
import {
  fieldsOf,
  listOf,
  type NodeFields,
  nameParts,
  type StatementFacts,
  type StatementHandler,
  stringOf,
  tableName,
  type WalkContext,
  type Walker,
} from "./walk-facts.js";

function handleSelect(fields: NodeFields, ctx: WalkContext, facts: StatementFacts, walker: Walker): string {
  const settingsRow = pgSettingsSetConfig(fields);
  if (settingsRow !== undefined) {
    facts.readsConstants = true;
    facts.functions.add("pg_catalog.set_config");
    facts.addConnection(ctx, settingChangeAction("VAR_SET_VALUE", settingsRow.name, [settingsRow.value]));
    facts.addTable(ctx, SqlAction.select, "pg_catalog.pg_settings", false);
    return SqlAction.select;
  }
  const scope = walker.walkWith(fields.withClause, ctx, facts);
  const inner: WalkContext = { ...ctx, scope, target: undefined };
  const locks = listOf(fields.lockingClause).length > 0;
  let verb: string = SqlAction.select;
  const into = fieldsOf(fields.intoClause);
  if (into !== undefined) {
    // SELECT ... INTO new_table creates and fills a table.
    verb = SqlAction.ddl;
    walker.walk(into, { ...inner, target: { action: SqlAction.ddl, written: true } }, facts);
  }
  for (const key of Object.keys(fields)) {
    if (key === "withClause" || key === "intoClause") continue;
    const lockReads = ctx.lockReads || (locks && key === "fromClause");
    walker.walk(fields[key], { ...inner, lockReads }, facts);
  }
  return verb;
}

/** INSERT/UPDATE/DELETE/MERGE: the target table gets the verb (and what it implies), the rest are reads. */
function dml(verb: string): StatementHandler {
  return (fields, ctx, facts, walker) => {
    const scope = walker.walkWith(fields.withClause, ctx, facts);
    const inner: WalkContext = { ...ctx, scope, target: undefined };
    const relation = fieldsOf(fields.relation);
    if (relation !== undefined) {
      const table = tableName(relation, ctx);
      facts.addTable(ctx, verb, table, true);
      for (const implied of impliedActions(verb, fields)) facts.addTable(ctx, implied, table, true);
      // RETURNING hands rows of the target back to the client: that is a read of it.
      if (fields.returningClause !== undefined) facts.addTable(ctx, SqlAction.select, table, false);
    }
    if ((verb === SqlAction.update || verb === SqlAction.delete) && fields.whereClause === undefined) {
      facts.hasWhere = false;
    }
    walker.walkFieldsExcept(fields, ["withClause", "relation"], inner, facts);
    return verb;
  };
}

function impliedActions(verb: string, fields: NodeFields): string[] {
  if (verb === SqlAction.insert) {
    const action = stringOf(fieldsOf(fields.onConflictClause)?.action);
    return action === "ONCONFLICT_UPDATE" ? [SqlAction.update] : [];
  }
  if (verb !== SqlAction.merge) return [];
  const implied: string[] = [];
  for (const clause of listOf(fields.mergeWhenClauses)) {
    const command = stringOf(fieldsOf(fieldsOf(clause)?.MergeWhenClause)?.commandType);
    if (command === "CMD_INSERT") implied.push(SqlAction.insert);
    if (command === "CMD_UPDATE") implied.push(SqlAction.update);
    if (command === "CMD_DELETE") implied.push(SqlAction.delete);
  }
  return implied;
}

const handleCopy: StatementHandler = (fields, ctx, facts, walker) => {
  const from = fields.is_from === true;
  let verb: string = from ? SqlAction.copyFrom : SqlAction.copyTo;
  if (fields.is_program === true) verb = SqlAction.copyProgram;
  else if (fields.filename !== undefined) verb = SqlAction.copyFile;
  if (verb !== SqlAction.copyFrom && verb !== SqlAction.copyTo) facts.addConnection(ctx, verb);
  const relation = fieldsOf(fields.relation);
  if (relation !== undefined) {
    const table = tableName(relation, ctx);
    if (from) {
      facts.addTable(ctx, SqlAction.copyFrom, table, true);
      facts.addTable(ctx, SqlAction.insert, table, true);
    } else {
      facts.addTable(ctx, SqlAction.copyTo, table, false);
      facts.addTable(ctx, SqlAction.select, table, false);
    }
  }
  if (fields.query !== undefined) {
    const before = new Set(facts.tablesTouched);
    walker.walk(fields.query, { ...ctx, target: undefined }, facts);
    const read = [...facts.tablesTouched].filter((table) => !before.has(table));
    for (const table of read) facts.addTable(ctx, SqlAction.copyTo, table, false);
    if (read.length === 0) facts.addConnection(ctx, SqlAction.copyTo);
  }
  walker.walkFieldsExcept(fields, ["relation", "query"], { ...ctx, target: undefined }, facts);
  return verb;
};

const handleExplain: StatementHandler = (fields, ctx, facts, walker) => {
  // Any ANALYZE option counts, whatever its value (see the invariant above): fail closed.
  const analyze = listOf(fields.options).some(
    (option) => stringOf(fieldsOf(fieldsOf(option)?.DefElem)?.defname) === "analyze",
  );
  const before = new Set(facts.tablesTouched);
  walker.walk(fields.query, { ...ctx, planOnly: ctx.planOnly || !analyze }, facts);
  const tables = [...facts.tablesTouched].filter((table) => !before.has(table));
  for (const table of tables) facts.addTable({ ...ctx, planOnly: true }, SqlAction.explain, table, false);
  if (tables.length === 0) facts.addConnection({ ...ctx, planOnly: false }, SqlAction.explain);
  return SqlAction.explain;
};

const handleVariableSet: StatementHandler = (fields, ctx, facts) => {
  const name = stringOf(fields.name)?.toLowerCase() ?? "";
  // Only a search_path change depends on its value (see setting-changes.ts); nothing else reads constants.
  const values = name === "search_path" ? setStatementValues(fields.args) : undefined;
  if (values !== undefined) facts.readsConstants = true;
  const verb = settingChangeAction(stringOf(fields.kind) ?? "", name, values);
  facts.addConnection(ctx, verb);
  return verb;
};

/** PostgreSQL's AccessShareLock: the lock every SELECT takes on the tables it reads. */
const ACCESS_SHARE_MODE = 1;

const handleLock: StatementHandler = (fields, ctx, facts) => {
  // LOCK ... IN ACCESS SHARE MODE blocks only ACCESS EXCLUSIVE (DROP, most ALTERs), exactly as a SELECT of the
  // same tables does; pg_dump takes it on every table it dumps. It is a read of those tables. Any other mode
  // blocks writers or readers: sql:lock.
  const verb = fields.mode === ACCESS_SHARE_MODE ? SqlAction.select : SqlAction.lock;
  for (const relation of listOf(fields.relations)) {
    const range = fieldsOf(fieldsOf(relation)?.RangeVar);
    if (range !== undefined) facts.addTable(ctx, verb, tableName(range, ctx), false);
  }
  return verb;
};

const TWO_PHASE_KINDS = new Set([
  "TRANS_STMT_PREPARE",
  "TRANS_STMT_COMMIT_PREPARED",
  "TRANS_STMT_ROLLBACK_PREPARED",
]);

const handleTransaction: StatementHandler = (fields, ctx, facts) => {
  // Two-phase commit outlives the session and can finish another session's transaction: administration.
  const verb = TWO_PHASE_KINDS.has(stringOf(fields.kind) ?? "") ? SqlAction.admin : SqlAction.session;
  facts.addConnection(ctx, verb);
  return verb;
};

const handleDiscard: StatementHandler = (fields, ctx, facts) => {
  // DISCARD ALL = SET SESSION AUTHORIZATION DEFAULT + RESET ALL + DEALLOCATE ALL + ...
  if (fields.target === "DISCARD_ALL") {
    facts.deallocates = "*";
    facts.addConnection(ctx, SqlAction.setRole);
    return SqlAction.setRole;
  }
  facts.addConnection(ctx, SqlAction.session);
  return SqlAction.session;
};

const handleDeallocate: StatementHandler = (fields, ctx, facts) => {
  facts.deallocates = fields.isall === true ? "*" : (stringOf(fields.name) ?? "*");
  facts.addConnection(ctx, SqlAction.session);
  return SqlAction.session;
};

const handlePrepare: StatementHandler = (fields, ctx, facts, walker) => {
  facts.addConnection(ctx, SqlAction.prepare);
  const inner = walker.walkDetached(fields.query, { ...ctx, target: undefined });
  facts.prepares = { name: stringOf(fields.name) ?? "", inner };
  facts.unsupported ??= inner.unsupported;
  facts.hasWhere &&= inner.hasWhere;
  for (const access of inner.accesses) {
    if (access.resource.type === "Table") {
      facts.addTable(ctx, access.action, access.resource.name, inner.tablesWritten.has(access.resource.name));
    } else if (access.resource.type === "Function") facts.addFunction(access.action, access.resource.name);
    else facts.addConnection(ctx, access.action);
  }
  for (const name of inner.functions) facts.functions.add(name);
  return SqlAction.prepare;
};

const handleExecute: StatementHandler = (fields, ctx, facts, walker) => {
  facts.executes = stringOf(fields.name) ?? "";
  facts.addConnection({ ...ctx, planOnly: false }, SqlAction.execute);
  // Parameters are expressions and may call functions: EXECUTE p(pg_terminate_backend(1)).
  walker.walk(fields.params, ctx, facts);
  return SqlAction.execute;
};

const handleCall: StatementHandler = (fields, ctx, facts, walker) => {
  const call = fieldsOf(fields.funccall) ?? {};
  walker.recordFunction(call.funcname, facts, SqlAction.call);
  walker.walkFieldsExcept(call, ["funcname"], ctx, facts);
  return SqlAction.call;
};

/** DECLARE c CURSOR FOR query: the query runs as FETCH asks for rows; classify it as run now. */
const handleDeclareCursor: StatementHandler = (fields, ctx, facts, walker) => {
  walker.walk(fields.query, ctx, facts);
  return SqlAction.select;
};

/** Languages in which a function is native or unsandboxed code: creating one is server administration. */
const UNTRUSTED_LANGUAGES =
  /^(c|internal|plpythonu|plpython2u|plpython3u|plperlu|pltclu|plsh|pljavau|plrubyu)$/;

const handleCreateFunction: StatementHandler = (fields, ctx, facts, walker) => {
  const language = listOf(fields.options)
    .map((option) => fieldsOf(fieldsOf(option)?.DefElem))
    .find((option) => option?.defname === "language");
  const name = stringOf(fieldsOf(fieldsOf(language?.arg)?.String)?.sval)?.toLowerCase() ?? "sql";
  const verb = UNTRUSTED_LANGUAGES.test(name) ? SqlAction.admin : SqlAction.ddl;
  facts.addConnection(ctx, verb);
  // A BEGIN ATOMIC body holds real statements: they are reported too (fail closed).
  walker.walkFieldsExcept(fields, ["funcname"], ctx, facts);
  return verb;
};

/** Object kinds whose DROP names a table-like relation: the resource is that relation. */
const DROPPED_RELATIONS = new Set([
  "OBJECT_TABLE",
  "OBJECT_VIEW",
  "OBJECT_MATVIEW",
  "OBJECT_INDEX",
  "OBJECT_SEQUENCE",
  "OBJECT_FOREIGN_TABLE",
]);
/** DROP TRIGGER/RULE/POLICY name ON table: the relation is the name list without its last part. */
const DROPPED_ON_RELATION = new Set(["OBJECT_TRIGGER", "OBJECT_RULE", "OBJECT_POLICY"]);
const DROPPED_ADMIN_OBJECTS = new Set([
  "OBJECT_EXTENSION",
  "OBJECT_EVENT_TRIGGER",
  "OBJECT_FDW",
  "OBJECT_FOREIGN_SERVER",
  "OBJECT_LANGUAGE",
  "OBJECT_PUBLICATION",
  "OBJECT_ACCESS_METHOD",
]);

const handleDrop: StatementHandler = (fields, ctx, facts) => {
  const kind = stringOf(fields.removeType) ?? "";
  if (DROPPED_ADMIN_OBJECTS.has(kind)) {
    facts.addConnection(ctx, SqlAction.admin);
    return SqlAction.admin;
  }
  let named = false;
  for (const object of listOf(fields.objects)) {
    const parts = nameParts(fieldsOf(fieldsOf(object)?.List)?.items);
    const relation = DROPPED_ON_RELATION.has(kind) ? parts.slice(0, -1) : parts;
    if (!DROPPED_RELATIONS.has(kind) && !DROPPED_ON_RELATION.has(kind)) continue;
    if (relation.length === 0) continue;
    const table =
      relation.length === 1 ? `${ctx.defaultSchema}.${relation[0]}` : relation.slice(-2).join(".");
    facts.addTable(ctx, SqlAction.ddl, table, true);
    named = true;
  }
  if (!named) facts.addConnection(ctx, SqlAction.ddl);
  return SqlAction.ddl;
};

const handleCreateSchema: StatementHandler = (fields, ctx, facts, walker) => {
  const schema = stringOf(fields.schemaname) ?? ctx.defaultSchema;
  facts.addConnection(ctx, SqlAction.ddl);
  // CREATE SCHEMA s CREATE TABLE t ...: the nested statements are classified, with s as their schema.
  walker.walk(fields.schemaElts, { ...ctx, defaultSchema: schema, target: undefined }, facts);
  return SqlAction.ddl;
};

export const STATEMENT_HANDLERS: Readonly<Record<string, StatementHandler>> = {
  SelectStmt: handleSelect,
  InsertStmt: dml(SqlAction.insert),
  UpdateStmt: dml(SqlAction.update),
  DeleteStmt: dml(SqlAction.delete),
  MergeStmt: dml(SqlAction.merge),
  CopyStmt: handleCopy,
  ExplainStmt: handleExplain,
  VariableSetStmt: handleVariableSet,
  LockStmt: handleLock,
  TransactionStmt: handleTransaction,
  DiscardStmt: handleDiscard,
  DeallocateStmt: handleDeallocate,
  PrepareStmt: handlePrepare,
  ExecuteStmt: handleExecute,
  CallStmt: handleCall,
  DeclareCursorStmt: handleDeclareCursor,
  CreateFunctionStmt: handleCreateFunction,
  DropStmt: handleDrop,
  CreateSchemaStmt: handleCreateSchema,
};
