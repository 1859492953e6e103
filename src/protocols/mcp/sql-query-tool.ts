import { createHash, randomUUID } from "node:crypto";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { asLatchError, LatchError } from "../../errors.js";
import { MaskTally } from "../../masking/mask-tally.js";
import type { ValueMasker } from "../../masking/value-masker.js";
import type { Operation } from "../../operation/operation.js";
import type { StatementClassifier } from "../../sql/classification.js";
import { argumentsHash } from "./arguments-hash.js";
import { waitingOptions } from "./call-waiting.js";
import type { RowMasking } from "./row-masking.js";
import { classificationOf } from "./tool-admission.js";
import type { CallExtras, ToolContext } from "./tool-context.js";
import { pendingResult, toolError, toolResult } from "./tool-results.js";

export interface SqlQueryArguments {
  readonly connection: string;
  readonly sql: string;
  readonly params?: readonly (string | null)[];
}

export interface SqlToolDeps {
  readonly classifier: StatementClassifier;
  /** The connection's masking (one per connection, shared by its sessions). */
  readonly masking: (connection: string) => { rows: RowMasking; text: ValueMasker } | undefined;
}

const MAX_SQL_BYTES = 256 * 1024;
const MAX_PARAMS = 1000;

/**
 * `sql_query`: the statement classified by the same PostgreSQL classifier as psql's, judged with the same
 * actions and resources, held for approval like any statement, run with the session's injected credential,
 * and answered with at most `mcp.max_rows` rows, masked with column provenance.
 */
export async function runSqlQuery(
  context: ToolContext,
  deps: SqlToolDeps,
  args: SqlQueryArguments,
  extras: CallExtras,
): Promise<CallToolResult> {
  const { session, pipeline, config } = context;
  const connection = Object.hasOwn(config.connections, args.connection)
    ? config.connections[args.connection]
    : undefined;
  if (connection?.type !== "postgres")
    return toolError(new LatchError("connection_unknown", { name: args.connection.slice(0, 63) }));
  if (Buffer.byteLength(args.sql) > MAX_SQL_BYTES || (args.params?.length ?? 0) > MAX_PARAMS)
    return toolError(
      new LatchError("message_too_large", { size: Buffer.byteLength(args.sql), limit: MAX_SQL_BYTES }),
    );
  const params = args.params ?? [];
  const hash = argumentsHash("sql_query", args);
  const classification = deps.classifier.classify(args.sql);
  const operation: Operation = {
    id: randomUUID(),
    sessionId: session.id,
    protocol: "mcp",
    connection: args.connection,
    identity: session.identity,
    mode: "sql_query",
    steps: classification.ok
      ? classification.statements.map((statement) => ({
          ...statement.step,
          recorded: { ...statement.step.recorded, tool: "sql_query", argumentsHash: hash },
        }))
      : [
          {
            text: args.sql,
            action: "sql:unknown",
            accesses: [],
            facts: { readOnly: false, hasWhere: true, tableCount: 0, command: "" },
            recorded: { tool: "sql_query", argumentsHash: hash },
          },
        ],
    ...(params.length === 0
      ? {}
      : {
          parameters: [params.map((value) => (value === null ? null : value.slice(0, 256)))],
          parameterDigests: [params.map((value) => (value === null ? null : sha256(value)))],
        }),
    receivedAt: Date.now(),
  };
  session.touch();
  if (!classification.ok) {
    const error = new LatchError("statement_unparseable", { reason: classification.reason });
    pipeline.recordRefusal(operation, error);
    return toolError(error);
  }
  if (classification.statements.length === 0)
    return toolError(new LatchError("tool_arguments_invalid", { name: "sql_query", reason: "sql is empty" }));
  const sqlLevel = classification.statements.find(
    (statement) => statement.prepares ?? statement.executes ?? statement.deallocates,
  );
  if (sqlLevel !== undefined) {
    const error = new LatchError("statement_denied", {
      reason:
        "SQL-level PREPARE/EXECUTE/DEALLOCATE is not available through sql_query; send the statement itself with params",
    });
    pipeline.recordRefusal(operation, error);
    return toolError(error);
  }
  if (params.length > 0 && classification.statements.length > 1) {
    const error = new LatchError("statement_denied", { reason: "params go with exactly one statement" });
    pipeline.recordRefusal(operation, error);
    return toolError(error);
  }
  const masking = deps.masking(args.connection);
  const check = masking?.rows.checkStatement(args.sql) ?? { ok: true as const };
  if (!check.ok) {
    const error = new LatchError("statement_denied", { reason: check.reason });
    pipeline.recordRefusal(operation, error);
    return toolError(error);
  }

  const admission = await pipeline.admit(
    operation,
    { clientAddress: session.clientAddress, connectionLabels: connection.labels },
    {
      signal: AbortSignal.any([extras.signal, session.signal]),
      ...waitingOptions(extras),
    },
  );
  if (!admission.allowed) {
    if (admission.error.code === "approval_deferred" && admission.requestId !== undefined)
      return pendingResult({
        requestId: admission.requestId,
        group: admission.verdict.approval?.group,
        quorum: admission.verdict.approval?.quorum,
        consoleUrl: context.desk?.consoleUrl,
        reason: admission.verdict.reason,
      });
    return toolError(
      admission.error,
      admission.requestId === undefined ? {} : { requestId: admission.requestId },
    );
  }
  if (admission.grantExpiresAt !== undefined) session.usedGrant(admission.grantExpiresAt);
  session.remember(operation.steps);

  const started = performance.now();
  try {
    const upstream = await context.sqlUpstream(args.connection);
    const result = await upstream.query(args.sql, params, session.signal);
    const maxRows = config.mcp.max_rows;
    const kept = result.rows.slice(0, maxRows);
    // Only with tracing on: the connection's masker is shared by its sessions, so the tally is this call's.
    const tally = masking === undefined || pipeline.traceMask === undefined ? undefined : new MaskTally();
    let masked: { rows: (string | null)[][] | typeof kept; maskedColumns: string[] };
    try {
      masked =
        masking === undefined
          ? { rows: kept, maskedColumns: [] }
          : await masking.rows.mask(result.fields, kept, tally);
    } catch (cause) {
      tally?.noteWithheld();
      throw cause;
    } finally {
      if (tally?.touched === true) pipeline.traceMask?.(operation, tally);
    }
    pipeline.complete(operation, {
      durationMs: performance.now() - started,
      rows: result.rows.length,
      commandTags: [result.command],
    });
    return toolResult({
      columns: result.fields.map((field) => field.name),
      rows: masked.rows,
      rowCount: result.rowCount,
      truncated: result.rows.length > maxRows,
      maskedColumns: masked.maskedColumns,
      command: result.command,
      classification: classificationOf(operation),
    });
  } catch (cause) {
    const failure =
      cause instanceof LatchError
        ? cause
        : isServerError(cause)
          ? new LatchError("upstream_statement_failed", { name: args.connection, reason: cause.message })
          : asLatchError(cause, operation.id);
    // A server error can quote the values it choked on: detectors see the message before the agent does.
    const message = masking?.text.detects
      ? (masking.text.maskText(failure.message, false) ?? "")
      : failure.message;
    pipeline.complete(operation, {
      durationMs: performance.now() - started,
      rows: 0,
      commandTags: [],
      error: { code: failure.code, message },
    });
    return toolError({ code: failure.code, message });
  }
}

function isServerError(error: unknown): error is Error & { code: string } {
  return (
    error instanceof Error && typeof (error as { code?: unknown }).code === "string" && "severity" in error
  );
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
