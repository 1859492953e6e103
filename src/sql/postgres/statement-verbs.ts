/**
 * The Cedar action vocabulary of the PostgreSQL classifier, and the allow-list of statement node types that
 * need no special handling. A node type that is in neither this table nor the special handlers of
 * `statement-handlers.ts` is refused as "unsupported": Latch denies what it does not understand.
 *
 * | Action                | Resource            | Produced by                                                          | readOnly |
 * |-----------------------|---------------------|----------------------------------------------------------------------|----------|
 * | sql:select            | Table / Connection  | every read of a table; a SELECT without tables -> Connection         | yes      |
 * | sql:insert            | Table               | INSERT, MERGE ... INSERT, COPY ... FROM                               | no       |
 * | sql:update            | Table               | UPDATE, INSERT ... ON CONFLICT DO UPDATE, MERGE ... UPDATE            | no       |
 * | sql:delete            | Table               | DELETE, MERGE ... DELETE                                             | no       |
 * | sql:merge             | Table               | MERGE target (plus the insert/update/delete it implies)              | no       |
 * | sql:truncate          | Table               | TRUNCATE                                                             | no       |
 * | sql:ddl               | Table / Connection  | CREATE/ALTER/DROP/COMMENT/RENAME, CREATE TABLE AS, SELECT INTO,      | no       |
 * |                       |                     | CREATE INDEX/VIEW/RULE/TRIGGER/FUNCTION (trusted languages)...       |          |
 * | sql:admin             | Connection          | ALTER SYSTEM, LOAD, extensions, languages, FDW/servers/mappings,     | no       |
 * |                       |                     | databases, tablespaces, publications/subscriptions, event triggers,  |          |
 * |                       |                     | access methods, functions in C/internal/untrusted languages,         |          |
 * |                       |                     | PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED            |          |
 * | sql:copy_to           | Table / Connection  | COPY table|query TO STDOUT (plus sql:select on the tables)            | yes      |
 * | sql:copy_from         | Table               | COPY table FROM STDIN (plus sql:insert on the table)                  | no       |
 * | sql:copy_file         | Connection          | COPY to or from a file on the database server                        | no       |
 * | sql:copy_program      | Connection          | COPY ... PROGRAM (a shell command on the database server)            | no       |
 * | sql:call              | Function            | CALL procedure                                                       | no       |
 * | sql:do                | Connection          | DO blocks: opaque procedural code                                    | no       |
 * | sql:set_role          | Connection          | SET [LOCAL] ROLE, SET SESSION AUTHORIZATION, RESET ROLE/ALL, DISCARD ALL | no   |
 * | sql:set_protected     | Connection          | SET/RESET of PROTECTED_SETTINGS, SET SESSION CHARACTERISTICS         | no       |
 * | sql:set               | Connection          | any other SET/RESET                                                  | yes      |
 * | sql:session           | Connection          | BEGIN/START/COMMIT/ROLLBACK/SAVEPOINT/RELEASE, SET TRANSACTION, SHOW, | yes      |
 * |                       |                     | DISCARD PLANS/SEQUENCES/TEMP, DEALLOCATE, FETCH/MOVE/CLOSE, LISTEN,   |          |
 * |                       |                     | UNLISTEN, SET CONSTRAINTS. BEGIN/SET TRANSACTION READ WRITE are plain |          |
 * |                       |                     | sql:session: Latch never relies on a read-only wrapper.              |          |
 * | sql:notify            | Connection          | NOTIFY                                                               | no       |
 * | sql:lock              | Table               | LOCK TABLE, SELECT ... FOR UPDATE/SHARE (every table in its FROM)    | no       |
 * | sql:grant             | Table / Connection  | GRANT/REVOKE, CREATE/ALTER/DROP ROLE, ALTER DEFAULT PRIVILEGES,       | no       |
 * |                       |                     | ALTER ... OWNER TO, REASSIGN OWNED, DROP OWNED                       |          |
 * | sql:maintenance       | Table / Connection  | VACUUM, ANALYZE, REINDEX, CLUSTER, CHECKPOINT, REFRESH MAT. VIEW      | no       |
 * | sql:explain           | Table / Connection  | EXPLAIN; without ANALYZE the inner statement is only planned (its    | yes*     |
 * |                       |                     | tables become sql:explain); with ANALYZE it is classified as executed |          |
 * | sql:prepare           | Connection          | PREPARE name AS stmt (plus the inner statement's accesses)           | yes*     |
 * | sql:execute           | Connection          | EXECUTE name (the session substitutes the remembered classification) | no       |
 * | sql:function          | Function            | a call of any function that is not on the safe allow-list            | no       |
 * | sql:admin_function    | Function            | a call of a function on the dangerous list                           | no       |
 *
 * yes* = the action itself is read-only; the statement is read-only only if all its accesses are.
 */

export const SqlAction = {
  select: "sql:select",
  insert: "sql:insert",
  update: "sql:update",
  delete: "sql:delete",
  merge: "sql:merge",
  truncate: "sql:truncate",
  ddl: "sql:ddl",
  admin: "sql:admin",
  copyTo: "sql:copy_to",
  copyFrom: "sql:copy_from",
  copyFile: "sql:copy_file",
  copyProgram: "sql:copy_program",
  call: "sql:call",
  do: "sql:do",
  setRole: "sql:set_role",
  setProtected: "sql:set_protected",
  set: "sql:set",
  session: "sql:session",
  notify: "sql:notify",
  lock: "sql:lock",
  grant: "sql:grant",
  maintenance: "sql:maintenance",
  explain: "sql:explain",
  prepare: "sql:prepare",
  execute: "sql:execute",
  function: "sql:function",
  adminFunction: "sql:admin_function",
} as const;

export type SqlActionId = (typeof SqlAction)[keyof typeof SqlAction];

/** Actions that cannot change data, schema, roles or session security state by themselves. */
export const READ_ONLY_ACTIONS: ReadonlySet<string> = new Set([
  SqlAction.select,
  SqlAction.copyTo,
  SqlAction.set,
  SqlAction.session,
  SqlAction.explain,
  SqlAction.prepare,
]);

/**
 * Settings whose change alters security state or how the server lexes later statements (our parser assumes
 * standard_conforming_strings=on and UTF-8; search_path pinning is what makes unqualified built-in function
 * names trustworthy). SET/RESET of these is sql:set_protected; role/session_authorization are sql:set_role.
 * Not here: row_security, whose `off` makes a query that a row-level policy would filter fail instead, so no
 * value of it shows a row the policies hide (pg_dump sets it off on every dump).
 */
export const PROTECTED_SETTINGS: ReadonlySet<string> = new Set([
  "search_path",
  "client_encoding",
  "standard_conforming_strings",
  "backslash_quote",
  "session_replication_role",
  "default_transaction_read_only",
  "transaction_read_only",
  "session_preload_libraries",
  "local_preload_libraries",
]);

export const ROLE_SETTINGS: ReadonlySet<string> = new Set(["role", "session_authorization"]);

/**
 * How a plain statement node is classified. `targets: "whole"` means every table named directly in the
 * statement (outside nested queries, which classify themselves) is the object of `verb`; `writes` says whether
 * those tables count as written.
 */
export interface StatementRule {
  readonly verb: SqlActionId;
  readonly targets: "whole" | "none";
  readonly writes: boolean;
}

const ddl: StatementRule = { verb: SqlAction.ddl, targets: "whole", writes: true };
const admin: StatementRule = { verb: SqlAction.admin, targets: "whole", writes: true };
const grant: StatementRule = { verb: SqlAction.grant, targets: "whole", writes: false };
const maintenance: StatementRule = { verb: SqlAction.maintenance, targets: "whole", writes: false };
const session: StatementRule = { verb: SqlAction.session, targets: "none", writes: false };

/** Statement node types classified by their type alone (special cases live in statement-handlers.ts). */
export const STATEMENT_RULES: Readonly<Record<string, StatementRule>> = {
  // Data definition.
  CreateStmt: ddl,
  AlterTableStmt: ddl,
  ReplicaIdentityStmt: ddl,
  CreateTableAsStmt: ddl,
  ViewStmt: ddl,
  RuleStmt: ddl,
  CreateTrigStmt: ddl,
  IndexStmt: ddl,
  CreateSeqStmt: ddl,
  AlterSeqStmt: ddl,
  CommentStmt: ddl,
  SecLabelStmt: ddl,
  RenameStmt: ddl,
  AlterObjectSchemaStmt: ddl,
  AlterObjectDependsStmt: ddl,
  AlterFunctionStmt: ddl,
  AlterOperatorStmt: ddl,
  AlterTypeStmt: ddl,
  AlterCollationStmt: ddl,
  AlterDomainStmt: ddl,
  CreateDomainStmt: ddl,
  DefineStmt: ddl,
  CompositeTypeStmt: ddl,
  CreateEnumStmt: ddl,
  CreateRangeStmt: ddl,
  AlterEnumStmt: ddl,
  CreateOpClassStmt: ddl,
  CreateOpFamilyStmt: ddl,
  AlterOpFamilyStmt: ddl,
  CreateStatsStmt: ddl,
  AlterStatsStmt: ddl,
  CreatePolicyStmt: ddl,
  AlterPolicyStmt: ddl,
  CreateConversionStmt: ddl,
  CreateCastStmt: ddl,
  CreateTransformStmt: ddl,
  AlterTSDictionaryStmt: ddl,
  AlterTSConfigurationStmt: ddl,
  CreateForeignTableStmt: ddl,
  // The body of a SQL-standard function (RETURN expr), only ever nested in CREATE FUNCTION.
  ReturnStmt: ddl,
  // Server-wide or code-loading administration.
  AlterSystemStmt: admin,
  LoadStmt: admin,
  CreateExtensionStmt: admin,
  AlterExtensionStmt: admin,
  AlterExtensionContentsStmt: admin,
  CreatePLangStmt: admin,
  CreateFdwStmt: admin,
  AlterFdwStmt: admin,
  CreateForeignServerStmt: admin,
  AlterForeignServerStmt: admin,
  CreateUserMappingStmt: admin,
  AlterUserMappingStmt: admin,
  DropUserMappingStmt: admin,
  ImportForeignSchemaStmt: admin,
  CreateEventTrigStmt: admin,
  AlterEventTrigStmt: admin,
  CreateTableSpaceStmt: admin,
  DropTableSpaceStmt: admin,
  AlterTableSpaceOptionsStmt: admin,
  AlterTableMoveAllStmt: admin,
  CreatedbStmt: admin,
  AlterDatabaseStmt: admin,
  AlterDatabaseRefreshCollStmt: admin,
  AlterDatabaseSetStmt: admin,
  DropdbStmt: admin,
  CreatePublicationStmt: admin,
  AlterPublicationStmt: admin,
  CreateSubscriptionStmt: admin,
  AlterSubscriptionStmt: admin,
  DropSubscriptionStmt: admin,
  CreateAmStmt: admin,
  // Privileges and roles.
  GrantStmt: grant,
  GrantRoleStmt: grant,
  CreateRoleStmt: grant,
  AlterRoleStmt: grant,
  AlterRoleSetStmt: grant,
  DropRoleStmt: grant,
  AlterDefaultPrivilegesStmt: grant,
  AlterOwnerStmt: grant,
  ReassignOwnedStmt: grant,
  DropOwnedStmt: grant,
  // Maintenance.
  VacuumStmt: maintenance,
  ReindexStmt: maintenance,
  ClusterStmt: maintenance,
  CheckPointStmt: maintenance,
  RefreshMatViewStmt: maintenance,
  // Table-level statements.
  TruncateStmt: { verb: SqlAction.truncate, targets: "whole", writes: true },
  // Session housekeeping.
  VariableShowStmt: session,
  FetchStmt: session,
  ClosePortalStmt: session,
  ListenStmt: session,
  UnlistenStmt: session,
  ConstraintsSetStmt: session,
  NotifyStmt: { verb: SqlAction.notify, targets: "none", writes: false },
  DoStmt: { verb: SqlAction.do, targets: "none", writes: false },
};
