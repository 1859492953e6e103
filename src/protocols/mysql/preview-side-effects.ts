/**
 * Why a MySQL/MariaDB statement must not be previewed (docs/approvals.md, "Preview, then commit"): a preview
 * runs the statement inside START TRANSACTION ... ROLLBACK, which is only a rehearsal when everything it does
 * is undone by the rollback. Pure: the classifier's facts and the statement's shape (its text with literals
 * blanked, so a string that reads "sleep(" or "@x" is not mistaken for code). Catalog facts (engine,
 * triggers, AUTO_INCREMENT) are checked on the preview's own connection (preview-catalog.ts).
 */

import type { MysqlClassifiedStatement } from "../../sql/mysql/create-classifier.js";
import { type EscapingFunction, functionPreviewRefusal } from "../../sql/preview-function-refusal.js";

/** Parser node types a rolled-back run rehearses faithfully (REPLACE and INSERT ... SELECT are Insert). */
const PREVIEWABLE = new Set(["Insert", "Update", "Delete"]);

/** By verb, for statements that are not plain row changes. */
const REFUSED_VERBS: Readonly<Record<string, string>> = {
  "sql:ddl": "DDL commits the open transaction implicitly, so a rollback would not undo it",
  "sql:truncate": "TRUNCATE is DDL in MySQL: it commits implicitly and cannot be rolled back",
  "sql:grant": "account and privilege statements commit implicitly",
  "sql:lock": "LOCK TABLES commits the open transaction and takes locks other sessions see",
  "sql:call": "a procedure may commit, sleep or write non-transactional tables on its own",
  "sql:do":
    "DO only evaluates expressions for their side effects (locks, sleeps), which a rollback does not undo",
  "sql:copy_file": "LOAD DATA reads server files, outside the transaction",
  "sql:maintenance":
    "maintenance statements (FLUSH, OPTIMIZE, RESET, ...) are not row changes and commit implicitly",
};

/** Function names whose effects escape a rolled-back transaction, or that only waste the server's time. */
const ESCAPING_FUNCTION: readonly EscapingFunction[] = [
  { pattern: /^(nextval|setval|lastval)$/, why: "moves a sequence, which a rollback does not undo" },
  {
    pattern: /^(get_lock|release_lock|release_all_locks|is_free_lock|is_used_lock)$/,
    why: "takes or releases a named lock other sessions see",
  },
  { pattern: /^(sleep|benchmark)$/, why: "only spends the server's time" },
  { pattern: /^load_file$/, why: "reads a server file" },
  {
    pattern: /^(master_pos_wait|source_pos_wait|master_gtid_wait|wait_for_executed_gtid_set)$/,
    why: "waits on replication",
  },
  { pattern: /^sys_/, why: "runs programs on the server (a UDF)" },
];

/** Shapes (literals blanked) whose effects escape the transaction, or that read session state. */
const ESCAPING_SHAPE: readonly { readonly pattern: RegExp; readonly why: string }[] = [
  {
    pattern: /\b(next|previous)\s+value\s+for\b/i,
    why: "it uses a sequence (NEXT VALUE FOR), which a rollback does not give back",
  },
  { pattern: /\binto\s+(outfile|dumpfile)\b/i, why: "it writes a server file (INTO OUTFILE/DUMPFILE)" },
  {
    pattern: /@/,
    why: "it reads or sets user or system variables, whose values in the client's session the preview cannot see",
  },
];

export function mysqlPreviewRefusal(statement: MysqlClassifiedStatement, shape: string): string | undefined {
  const byVerb = REFUSED_VERBS[statement.verb];
  if (byVerb !== undefined) return byVerb;
  if (!PREVIEWABLE.has(statement.nodeType))
    return `only INSERT, REPLACE, UPDATE and DELETE are previewed, not ${statement.nodeType || statement.verb}`;
  if (statement.tablesWritten.length === 0)
    return "the statement writes no table: there is nothing to preview";
  const byFunction = functionPreviewRefusal(statement, ESCAPING_FUNCTION);
  if (byFunction !== undefined) return byFunction;
  for (const entry of ESCAPING_SHAPE) if (entry.pattern.test(shape)) return entry.why;
  return undefined;
}

/** INSERT and REPLACE draw AUTO_INCREMENT values (also when they fail or collide), which a rollback keeps. */
export function drawsAutoIncrement(statement: MysqlClassifiedStatement): boolean {
  return statement.nodeType === "Insert";
}
