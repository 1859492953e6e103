import type { ClassifiedStatement } from "../../sql/classification.js";
import { type EscapingFunction, functionPreviewRefusal } from "../../sql/preview-function-refusal.js";

/**
 * Why a statement must not be previewed: a preview runs the statement and rolls it back, which is only a
 * rehearsal when everything it does stays inside the transaction. Pure: the classifier's facts and the
 * function names it found. Catalog facts (sequence defaults, triggers, foreign tables) are checked by the
 * runner on its own connection (preview-catalog.ts). Returns the reason, or undefined when it may run.
 */

/** Statement types that a rolled-back run rehearses faithfully. */
const PREVIEWABLE = new Set(["InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt", "SelectStmt"]);

const REFUSED_TYPES: Readonly<Record<string, string>> = {
  NotifyStmt: "NOTIFY signals other sessions; Latch does not rehearse it",
  ListenStmt: "LISTEN/UNLISTEN changes what this session hears, not data",
  CopyStmt: "COPY reads or writes files, programs or the client stream outside the transaction",
  VacuumStmt: "VACUUM/ANALYZE cannot run inside a transaction",
  IndexStmt: "CREATE INDEX (CONCURRENTLY cannot run inside a transaction) is not a row change",
  TransactionStmt: "transaction control has no rows to preview",
  CallStmt: "a procedure may commit on its own",
  DoStmt: "a DO block's side effects are not visible to Latch",
};

/** Function names (without schema) whose effects escape a rolled-back transaction. */
const ESCAPING_FUNCTION: readonly EscapingFunction[] = [
  { pattern: /^(nextval|setval)$/, why: "consumes or sets a sequence, which a rollback does not undo" },
  { pattern: /^pg_notify$/, why: "sends a notification to other sessions" },
  { pattern: /^dblink/, why: "runs SQL on another server, outside this transaction" },
  { pattern: /^lo_|^lowrite$|^loread$/, why: "works on large objects and server files" },
  { pattern: /^pg_(try_)?advisory/, why: "takes advisory locks other sessions see" },
  {
    pattern: /^pg_(terminate|cancel)_backend$|^pg_reload_conf$|^pg_rotate_logfile/,
    why: "acts on the server",
  },
  { pattern: /^pg_(read|write|file|ls)_|^pg_stat_file$/, why: "reads or writes server files" },
  { pattern: /^pg_logical_emit_message$/, why: "writes to the WAL stream outside the transaction's fate" },
];

export function previewRefusal(statement: ClassifiedStatement): string | undefined {
  const refusedType = REFUSED_TYPES[statement.nodeType];
  if (refusedType !== undefined) return refusedType;
  if (!PREVIEWABLE.has(statement.nodeType))
    return `only INSERT, UPDATE, DELETE and MERGE (also inside a WITH) are previewed, not ${statement.nodeType.replace(/Stmt$/, "")}`;
  if (statement.tablesWritten.length === 0)
    return "the statement writes no table: there is nothing to preview";
  return functionPreviewRefusal(statement, ESCAPING_FUNCTION);
}
