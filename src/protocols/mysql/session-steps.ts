/**
 * Operation steps the MySQL session builds itself rather than from the classifier: a database switch
 * (COM_INIT_DB, USE) and the record of a command refused before policy could judge it.
 */
import { randomUUID } from "node:crypto";
import { LatchError } from "../../errors.js";
import type { Access, Operation, OperationStep } from "../../operation/operation.js";
import type { SessionHandle } from "../../session/session-handle.js";
import type { MysqlClassification, MysqlClassifiedStatement } from "../../sql/mysql/create-classifier.js";
import type { ResponseSummary } from "./response-tracker.js";
import type { MysqlResultMasker } from "./result-masker.js";

/** What the client hears when the classifier could not read or does not support a text. */
export function classificationError(result: Extract<MysqlClassification, { ok: false }>): LatchError {
  return result.failure === "unparseable"
    ? new LatchError("statement_unparseable", { reason: result.reason })
    : new LatchError("statement_unsupported", { what: result.reason });
}

/** COM_STMT_PREPARE takes exactly one plain statement (no USE, PREPARE, EXECUTE or DEALLOCATE). */
export function singlePlainStatement(
  statements: readonly MysqlClassifiedStatement[],
): MysqlClassifiedStatement | undefined {
  const [statement, extra] = statements;
  if (statement === undefined || extra !== undefined) return undefined;
  const plain =
    statement.useDatabase === undefined &&
    statement.prepares === undefined &&
    statement.executes === undefined &&
    statement.deallocates === undefined;
  return plain ? statement : undefined;
}

/** USE / COM_INIT_DB: the connection's own database is `sql:session`, any other `sql:use`. */
export function useStep(
  database: string,
  connectionDatabase: string,
  text = `USE \`${database}\``,
): OperationStep {
  const other = database !== connectionDatabase;
  const accesses: Access[] = [
    { action: other ? "sql:use" : "sql:session", resource: { type: "Connection" } },
  ];
  return {
    text,
    action: accesses[0]!.action,
    accesses,
    facts: { readOnly: true, hasWhere: true, tableCount: 0, command: "" },
    recorded: { tablesRead: [], tablesWritten: [], database },
  };
}

/** A command refused before policy (parse failure, refused command, masking rule), for the record. */
export function refusedOperation(session: SessionHandle, text: string): Operation {
  return {
    id: randomUUID(),
    sessionId: session.id,
    protocol: "mysql",
    connection: session.connection,
    identity: session.identity,
    mode: "text",
    steps: [
      {
        text,
        action: "sql:unclassified",
        accesses: [],
        facts: { readOnly: false, hasWhere: true, tableCount: 0, command: "" },
      },
    ],
    receivedAt: Date.now(),
  };
}

/**
 * The error of a finished command's operation_result, as the client saw it: a result the masker withheld is
 * `result_withheld` (the client got that ERR, not the server's answer); a server error is recorded with its
 * message scrubbed like the client's copy (a duplicate key echoes the value).
 */
export function answeredError(
  summary: ResponseSummary,
  masker: MysqlResultMasker | undefined,
): { readonly code: string; readonly message: string } | undefined {
  const reason = masker?.withheldReason;
  if (reason !== undefined)
    return { code: "result_withheld", message: new LatchError("result_withheld", { reason }).message };
  const error = summary.error;
  if (error === undefined) return undefined;
  return { code: error.code, message: masker ? masker.scrubText(error.message) : error.message };
}

/** The rows a command answered: the result set's rows, or the OK packet's affected rows. */
export function answeredRows(summary: ResponseSummary): number {
  return summary.rows > 0 ? summary.rows : summary.affectedRows;
}

/**
 * The rows of a finished command's operation_result, as the client got them: a result the masker withheld
 * delivered none (the client got an ERR), so `rows` is 0 and what the server answered is kept beside it as
 * `serverRows`; otherwise the result set's rows, or the OK packet's affected rows.
 */
export function deliveredRows(
  summary: ResponseSummary,
  masker: MysqlResultMasker | undefined,
): { readonly rows: number; readonly details?: { readonly serverRows: number } } {
  const rows = answeredRows(summary);
  if (masker?.withheldReason === undefined) return { rows };
  return { rows: 0, details: { serverRows: rows } };
}
