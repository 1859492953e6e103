/**
 * Runs one held MySQL/MariaDB write in a transaction it rolls back, on a connection of its own with the
 * session's own credential (it can do nothing the session could not), and reports what it changed
 * (docs/approvals.md, "Preview, then commit", MySQL):
 *
 *   SET SESSION max_statement_time / max_execution_time, innodb_lock_wait_timeout; START TRANSACTION;
 *   EXPLAIN <statement>; <statement> [RETURNING *]; ROLLBACK
 *
 * The count is the OK packet's affected rows (or the RETURNING rows), counted as the session counts them
 * (FOUND_ROWS as the client negotiated). MariaDB has RETURNING for INSERT, REPLACE and single-table DELETE;
 * UPDATE has none, so an UPDATE shows counts only and says so. The connection closes at the end whatever
 * happened: the server rolls back an open transaction of a closed connection.
 */

import type { CompiledMaskingProfile } from "../../masking/masking-profile.js";
import { maskSample } from "../../masking/preview-sample.js";
import type { PreviewTableRows, StatementPreview } from "../../operation/statement-preview.js";
import type { MysqlClassifiedStatement, MysqlClassifier } from "../../sql/mysql/create-classifier.js";
import { splitStatements } from "../../sql/mysql/statement-text.js";
import type { PreviewSettings } from "../preview-settings.js";
import { type AdminResult, MysqlAdminConnection, MysqlAdminError } from "./admin-client.js";
import { catalogFacts } from "./preview-catalog.js";
import { drawsAutoIncrement, mysqlPreviewRefusal } from "./preview-side-effects.js";
import { keysBeforeUpdate } from "./preview-update-sample.js";
import type { MysqlUpstreamTarget } from "./upstream.js";

export interface MysqlPreviewRunnerOptions {
  readonly target: MysqlUpstreamTarget;
  readonly credential: { readonly user?: string; readonly password?: string };
  readonly settings: PreviewSettings;
  readonly classifier: MysqlClassifier;
  /** Client flags the session negotiated that change counts (FOUND_ROWS). */
  readonly capabilities: number;
  readonly masking?: CompiledMaskingProfile;
}

/** Parse errors and "not supported": the statement did not run, so it can be run again without RETURNING. */
const NOT_RETURNABLE = new Set([1064, 1235, 1149]);

/** `text`: one statement as the client sent it; `database`: the session's current database. */
export async function runMysqlPreview(
  options: MysqlPreviewRunnerOptions,
  text: string,
  database: string,
): Promise<StatementPreview> {
  const at = Date.now();
  const refused = (reason: string): StatementPreview => ({ status: "refused", reason, at });
  const split = splitStatements(text);
  const classified = options.classifier.classify(text, database);
  if (!split.ok || !classified.ok || classified.statements.length !== 1 || split.statements.length !== 1)
    return refused("only a single statement is previewed");
  const statement = classified.statements[0]!;
  const refusal = mysqlPreviewRefusal(statement, split.statements[0]!.shape);
  if (refusal !== undefined) return refused(refusal);
  const started = performance.now();
  let connection: MysqlAdminConnection | undefined;
  try {
    const { target, credential, settings } = options;
    connection = await MysqlAdminConnection.open(
      { ...target, user: credential.user ?? target.user },
      credential.password ?? "",
      // The client-side backstop: on MySQL max_execution_time covers SELECTs only.
      settings.statementTimeoutMs + 5000,
      { database, capabilities: options.capabilities },
    );
    const query = connection.query.bind(connection);
    const catalog = await catalogFacts(query, statement.tablesWritten, drawsAutoIncrement(statement));
    if (catalog.refusal !== undefined) return refused(catalog.refusal);
    const [version] = (await query("SELECT VERSION()")).rows[0] ?? [];
    const mariadb = /mariadb/i.test(version ?? "");
    await query(
      mariadb
        ? `SET SESSION max_statement_time = ${(settings.statementTimeoutMs / 1000).toFixed(3)}`
        : `SET SESSION max_execution_time = ${Math.floor(settings.statementTimeoutMs)}`,
    );
    await query(
      `SET SESSION innodb_lock_wait_timeout = ${Math.max(1, Math.ceil(settings.lockTimeoutMs / 1000))}`,
    );
    // Semi-consistent reads: a row another transaction holds locked is judged by its committed version, so
    // the preview does not wait behind rows its WHERE does not match (REPEATABLE READ locks every row scanned).
    await query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
    await query("START TRANSACTION");
    const plan = await explain(query, split.statements[0]!.code, settings.planBytes);
    const code = split.statements[0]!.code;
    const notes: string[] = [];
    const ran = await (statement.nodeType === "Update"
      ? runUpdate(query, statement, code, settings.sampleRows, notes)
      : runStatement(query, statement, code, mariadb, settings.sampleRows));
    await query("ROLLBACK");
    if (ran.sample === undefined && statement.nodeType !== "Update")
      notes.push(
        "no sample: the statement cannot take a RETURNING whose rows are its count (REPLACE, ON DUPLICATE KEY UPDATE, several tables, MySQL)",
      );
    const tables = tableRows(statement, ran);
    if (tables.length === 0)
      notes.push("no per-table split: the count is the server's affected rows for the whole statement");
    if (catalog.cascades.length > 0)
      notes.push(
        `rows changed through foreign keys (ON DELETE/UPDATE CASCADE or SET NULL) in ${catalog.cascades.join(", ")} are not in the count`,
      );
    if (
      statement.accesses.some((access) => access.action === "sql:update") &&
      statement.nodeType === "Insert"
    )
      notes.push(
        "ON DUPLICATE KEY UPDATE counts 1 per inserted row and 2 per updated row, as the server does",
      );
    const table = statement.tablesWritten.length === 1 ? statement.tablesWritten[0] : undefined;
    const sample =
      ran.sample === undefined
        ? undefined
        : maskSample(ran.sample, table, options.masking, settings.sampleBytes);
    if (sample !== undefined && "withheld" in sample) notes.push(sample.withheld);
    return {
      status: "ran",
      rows: ran.rows,
      tagRows: ran.rows,
      commandTag: `${verbOf(statement)} ${ran.rows}`,
      tables,
      plan,
      ...(sample !== undefined && !("withheld" in sample) ? { sample } : {}),
      durationMs: Math.round(performance.now() - started),
      at,
      ...(notes.length === 0 ? {} : { notes }),
    };
  } catch (error) {
    return { status: "failed", reason: describeError(error), at };
  } finally {
    connection?.close();
  }
}

type Query = (sql: string, keepRows?: number) => Promise<AdminResult>;

/** EXPLAIN's table as lines: the header, then one line per row. */
async function explain(query: Query, code: string, maxBytes: number): Promise<string> {
  const result = await query(`EXPLAIN ${code}`);
  const lines = [
    (result.columns ?? []).join(" | "),
    ...result.rows.map((row) => row.map((v) => v ?? "NULL").join(" | ")),
  ];
  const plan = lines.join("\n");
  return plan.length > maxBytes ? `${plan.slice(0, maxBytes)}…` : plan;
}

interface RawRun {
  /** What the real run is held to: affected rows, as the session's OK packet will say. */
  readonly rows: number;
  /** RETURNING rows (INSERT/REPLACE: the rows written; DELETE: the rows deleted). */
  readonly returned?: number;
  readonly sample?: { columns: string[]; rows: (string | null)[][]; truncated: boolean };
}

async function runStatement(
  query: Query,
  statement: MysqlClassifiedStatement,
  code: string,
  mariadb: boolean,
  sampleRows: number,
): Promise<RawRun> {
  const body = code.trim().replace(/;+\s*$/, "");
  const hasReturning = /\breturning\b/i.test(body);
  if (mariadb && (hasReturning || addsReturning(statement, body))) {
    try {
      const result = await query(hasReturning ? body : `${body}\nRETURNING *`, sampleRows);
      const returned = result.rowCount ?? 0;
      return {
        rows: returned,
        returned,
        sample: {
          columns: [...(result.columns ?? [])],
          rows: result.rows.slice(0, sampleRows),
          truncated: returned > sampleRows,
        },
      };
    } catch (error) {
      if (!(error instanceof MysqlAdminError) || !NOT_RETURNABLE.has(error.errno)) throw error;
    }
  }
  const result = await query(body, 0);
  return {
    rows: result.rowCount !== undefined && result.rowCount > 0 ? result.rowCount : result.affectedRows,
  };
}

/**
 * An UPDATE (no RETURNING in MySQL or MariaDB): the keys of the first rows it matches are read first, the rows
 * read back by key after it ran (preview-update-sample.ts). Where that is not safe, counts only, and why.
 */
async function runUpdate(
  query: Query,
  statement: MysqlClassifiedStatement,
  code: string,
  sampleRows: number,
  notes: string[],
): Promise<RawRun> {
  const body = code.trim().replace(/;+\s*$/, "");
  const keyed =
    sampleRows === 0 || statement.tablesWritten.length !== 1
      ? { why: "the UPDATE writes several tables" }
      : await keysBeforeUpdate(query, statement.tablesWritten[0]!, body, sampleRows);
  const result = await query(body, 0);
  const rows = result.affectedRows;
  if ("why" in keyed) {
    if (sampleRows > 0)
      notes.push(`no sample (MySQL and MariaDB have no UPDATE ... RETURNING): ${keyed.why}`);
    return { rows };
  }
  const after = await keyed.read();
  notes.push("sample: the first rows the UPDATE matched, read back by primary key after it ran");
  return {
    rows,
    sample: {
      columns: [...(after.columns ?? [])],
      rows: after.rows.slice(0, sampleRows),
      truncated: rows > after.rows.length,
    },
  };
}

/**
 * Whether RETURNING * may be added: its rows must be what the real run's affected rows count. True for a
 * single-table DELETE and a plain INSERT; not for UPDATE (no RETURNING), a multi-table DELETE (not allowed),
 * REPLACE or ON DUPLICATE KEY UPDATE (their affected rows also count the rows deleted or updated on the way,
 * and ROW_COUNT() says -1 after a RETURNING).
 */
function addsReturning(statement: MysqlClassifiedStatement, body: string): boolean {
  if (statement.tablesWritten.length !== 1) return false;
  if (statement.nodeType === "Delete")
    return /^\s*delete\s+(low_priority\s+|quick\s+|ignore\s+)*from\b/i.test(body);
  return (
    statement.nodeType === "Insert" &&
    statement.accesses.every((a) => a.action === "sql:insert" || a.action === "sql:select")
  );
}

function verbOf(statement: MysqlClassifiedStatement): string {
  if (statement.nodeType === "Insert")
    return statement.accesses.some((access) => access.action === "sql:delete") ? "REPLACE" : "INSERT";
  return statement.nodeType.toUpperCase();
}

/** Per table for a single-table statement (the affected rows are its rows); nothing for several tables. */
function tableRows(statement: MysqlClassifiedStatement, ran: RawRun): PreviewTableRows[] {
  if (statement.tablesWritten.length !== 1) return [];
  const table = statement.tablesWritten[0]!;
  const zero = { table, inserted: 0, updated: 0, deleted: 0 };
  if (statement.nodeType === "Update") return [{ ...zero, updated: ran.rows }];
  if (statement.nodeType === "Delete") return [{ ...zero, deleted: ran.rows }];
  // REPLACE and ON DUPLICATE KEY UPDATE: the server's affected rows mix inserts with deletes or updates.
  if (statement.accesses.some((a) => a.action === "sql:delete" || a.action === "sql:update")) return [];
  return [{ ...zero, inserted: ran.rows }];
}

/** The server's message and number, never connection details or credentials. */
function describeError(error: unknown): string {
  if (error instanceof MysqlAdminError) {
    if (error.errno === 1969 || error.errno === 3024)
      return "the preview ran longer than approvals.preview.statement_timeout";
    if (error.errno === 1205)
      return "the preview waited longer than approvals.preview.lock_timeout for a lock";
  }
  const message = String((error as Error).message ?? error)
    .replace(/password[^\s]*/gi, "password …")
    .slice(0, 300);
  return `the preview could not run: ${message}`;
}
