import { readFileSync } from "node:fs";
import net from "node:net";
import pg from "pg";
import type { CompiledMaskingProfile } from "../../masking/masking-profile.js";
import { maskSample } from "../../masking/preview-sample.js";
import type { PreviewSample, PreviewTableRows, StatementPreview } from "../../operation/statement-preview.js";
import type { StatementClassifier } from "../../sql/classification.js";
import type { PreviewSettings } from "../preview-settings.js";
import { catalogRefusal, type DefaultsDrawn } from "./preview-catalog.js";
import { suppliedColumns } from "./preview-insert-columns.js";
import { previewRefusal } from "./preview-side-effects.js";
import type { UpstreamTarget } from "./upstream.js";

/**
 * Runs one held write in a transaction it rolls back, on a connection of its own with the session's own
 * credential (it can do nothing the session could not), and reports what it changed (docs/approvals.md,
 * "Preview, then commit"):
 *
 *   BEGIN; SET LOCAL statement_timeout, lock_timeout; EXPLAIN <statement>;
 *   WITH latch_preview AS (<statement> RETURNING *) SELECT count(*) OVER (), * FROM latch_preview LIMIT n;
 *   SELECT ... FROM pg_stat_xact_user_tables; ROLLBACK
 *
 * EXPLAIN without ANALYZE: the rolled-back run already gives the real counts, and EXPLAIN ANALYZE would run
 * the statement a second time. The CTE form gives the count and a capped sample in one run without
 * streaming every changed row to the gateway; a statement that cannot take that form (its own WITH, MERGE)
 * runs as written and shows no sample.
 */

export interface PreviewRunnerOptions {
  readonly target: UpstreamTarget;
  readonly credential: { readonly user?: string; readonly password?: string };
  readonly settings: PreviewSettings;
  readonly classifier: StatementClassifier;
  /** The connection's masking: the sample is masked as a result would be. Absent: nothing to mask. */
  readonly masking?: CompiledMaskingProfile;
}

/** `text` is the statement as the client sent it (one statement, no bound parameters). */
export async function runPreview(options: PreviewRunnerOptions, text: string): Promise<StatementPreview> {
  const at = Date.now();
  const classified = options.classifier.classify(text);
  if (!classified.ok || classified.statements.length !== 1)
    return { status: "refused", reason: "only a single statement is previewed", at };
  const statement = classified.statements[0]!;
  const refusal = previewRefusal(statement);
  if (refusal !== undefined) return { status: "refused", reason: refusal, at };
  const tables = [...statement.tablesWritten];
  const defaults = defaultsDrawn(statement.nodeType, text, tables);
  const client = connect(options);
  const started = performance.now();
  try {
    await client.connect();
    const blocked = await catalogRefusal(client, tables, defaults);
    if (blocked !== undefined) return { status: "refused", reason: blocked, at };
    await client.query("BEGIN");
    await client.query(`SET LOCAL statement_timeout = ${Math.floor(options.settings.statementTimeoutMs)}`);
    await client.query(`SET LOCAL lock_timeout = ${Math.floor(options.settings.lockTimeoutMs)}`);
    const plan = await explain(client, text, options.settings.planBytes);
    const ran = await runStatement(client, statement.nodeType, text, options.settings.sampleRows);
    const tableRows = await changedTables(client);
    await client.query("ROLLBACK");
    const perTable = tableRows.reduce((sum, row) => sum + row.inserted + row.updated + row.deleted, 0);
    const notes: string[] = [];
    if (statement.nodeType === "SelectStmt")
      notes.push("the writes are inside a WITH: the per-table counts are what they changed");
    if (ran.sample === undefined) notes.push("no sample: the statement cannot take a RETURNING here");
    const sample =
      ran.sample === undefined
        ? undefined
        : maskSample(
            ran.sample,
            tables.length === 1 ? tables[0] : undefined,
            options.masking,
            options.settings.sampleBytes,
          );
    if (sample !== undefined && "withheld" in sample) notes.push(sample.withheld);
    return {
      status: "ran",
      rows: Math.max(ran.tagRows, perTable),
      tagRows: ran.tagRows,
      commandTag: ran.commandTag,
      tables: tableRows,
      plan,
      ...(sample !== undefined && !("withheld" in sample) ? { sample } : {}),
      durationMs: Math.round(performance.now() - started),
      at,
      ...(notes.length === 0 ? {} : { notes }),
    };
  } catch (error) {
    // The server rolls back an open transaction when the connection closes, whatever failed here.
    return { status: "failed", reason: describePgError(error), at };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Which column defaults the statement may take: a plain single-table INSERT is read column by column (one that
 * supplies its serial column draws nothing); a MERGE, an INSERT with a WITH or anything naming DEFAULT may
 * draw any.
 */
function defaultsDrawn(nodeType: string, text: string, tables: readonly string[]): DefaultsDrawn {
  if (nodeType === "InsertStmt" && tables.length === 1) return suppliedColumns(text) ?? "all";
  return nodeType === "InsertStmt" || nodeType === "MergeStmt" || /\bdefault\b/i.test(text) ? "all" : "none";
}

function connect(options: PreviewRunnerOptions): pg.Client {
  const { target, credential } = options;
  return new pg.Client({
    host: target.host,
    port: target.port,
    user: credential.user ?? target.user,
    database: target.database,
    password: credential.password ?? "",
    ssl:
      target.tls === "disable"
        ? false
        : {
            rejectUnauthorized: target.tls === "verify-full",
            ...(net.isIP(target.host) === 0 ? { servername: target.host } : {}),
            ...(target.caFile === undefined ? {} : { ca: readFileSync(target.caFile) }),
          },
    connectionTimeoutMillis: target.connectTimeoutMs,
    application_name: "latch-preview",
  });
}

/** Every value as the server's text, rows as arrays: what the sample shows and the masker reads. */
const TEXT_VALUES = { getTypeParser: () => (value: string) => value };

async function explain(client: pg.Client, text: string, maxBytes: number): Promise<string> {
  const result = await client.query<[string]>({
    text: `EXPLAIN ${text}`,
    rowMode: "array",
    types: TEXT_VALUES,
  });
  const plan = result.rows.map((row) => row[0]).join("\n");
  return plan.length > maxBytes ? `${plan.slice(0, maxBytes)}…` : plan;
}

interface RawRun {
  readonly tagRows: number;
  readonly commandTag: string;
  readonly sample?: { columns: string[]; rows: (string | null)[][]; truncated: boolean };
}

async function runStatement(
  client: pg.Client,
  nodeType: string,
  text: string,
  sampleRows: number,
): Promise<RawRun> {
  const body = text.trim().replace(/;+\s*$/, "");
  const wrappable =
    ["InsertStmt", "UpdateStmt", "DeleteStmt"].includes(nodeType) && !/^\s*with\b/i.test(body);
  if (wrappable) {
    const returning = /\breturning\b/i.test(body) ? "" : "\nRETURNING *";
    const wrapped = `WITH latch_preview AS (${body}${returning}\n) SELECT count(*) OVER () AS latch_preview_rows, * FROM latch_preview LIMIT ${sampleRows + 1}`;
    await client.query("SAVEPOINT latch_preview_wrapped");
    try {
      const result = await client.query<(string | null)[]>({
        text: wrapped,
        rowMode: "array",
        types: TEXT_VALUES,
      });
      const count = result.rows.length === 0 ? 0 : Number(result.rows[0]![0]);
      const verb = nodeType === "InsertStmt" ? "INSERT 0" : nodeType === "UpdateStmt" ? "UPDATE" : "DELETE";
      return {
        tagRows: count,
        commandTag: `${verb} ${count}`,
        sample: {
          columns: result.fields.slice(1).map((field) => field.name),
          rows: result.rows.slice(0, sampleRows).map((row) => row.slice(1)),
          truncated: count > sampleRows,
        },
      };
    } catch {
      // The statement cannot take this form (e.g. a literal that reads "returning"): run it as written.
      await client.query("ROLLBACK TO SAVEPOINT latch_preview_wrapped");
    }
  }
  const result = await client.query({ text: body, rowMode: "array", types: TEXT_VALUES });
  const tagRows = result.rowCount ?? 0;
  return { tagRows, commandTag: `${result.command} ${tagRows}` };
}

/** The transaction's own counts per table (pg_stat_xact_*): cascades and writes inside a WITH included. */
async function changedTables(client: pg.Client): Promise<PreviewTableRows[]> {
  const { rows } = await client.query<{ name: string; ins: string; upd: string; del: string }>(
    `SELECT schemaname || '.' || relname AS name, n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del
     FROM pg_stat_xact_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY 1`,
  );
  return rows.map((row) => ({
    table: row.name,
    inserted: Number(row.ins),
    updated: Number(row.upd),
    deleted: Number(row.del),
  }));
}

/** The server's message and SQLSTATE, never connection details or credentials. */
function describePgError(error: unknown): string {
  const pgError = error as { code?: string; message?: string };
  if (pgError.code === "57014") return "the preview ran longer than approvals.preview.statement_timeout";
  if (pgError.code === "55P03")
    return "the preview waited longer than approvals.preview.lock_timeout for a lock";
  const message = (pgError.message ?? String(error)).replace(/password[^\s]*/gi, "password …").slice(0, 300);
  return `the preview could not run: ${message}${pgError.code === undefined ? "" : ` (SQLSTATE ${pgError.code})`}`;
}

export type { PreviewSample };
