import type { Logger } from "pino";
import { LatchError } from "../errors.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { Metrics } from "../server/metrics.js";
import type { AuditEventInput, AuditSink } from "../store/store.js";
import { AuditBatcher } from "./audit-batcher.js";
import type { Operation, Verdict } from "./operation.js";

export interface OperationContext {
  readonly clientAddress: string;
  readonly connectionLabels: Readonly<Record<string, string>>;
}

export interface OperationResult {
  readonly durationMs: number;
  readonly rows: number;
  readonly commandTags: readonly string[];
  readonly error?: { readonly code: string; readonly message: string };
}

export type Admission =
  | { readonly allowed: true; readonly verdict: Verdict }
  | { readonly allowed: false; readonly error: LatchError; readonly verdict: Verdict };

const MAX_RECORDED_TEXT = 8192;
const MAX_RECORDED_PARAM = 256;

export type AdmissionCallback = (admission: Admission) => void;

/**
 * The stage order, written once: authorize -> approve -> audit -> (protocol forwards) -> record result.
 * Classification happened in the protocol session (it knows the dialect); masking is applied by the
 * protocol on the response path. Stages do not call each other; this class sequences them.
 */
export class OperationPipeline {
  private readonly audit: AuditBatcher;

  constructor(
    private readonly policy: () => PolicyEngine,
    sink: AuditSink,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.audit = new AuditBatcher(sink);
  }

  /**
   * Decides an operation and records the decision; `admitted` runs once the record is durable (or failed, which
   * denies). The protocol forwards only from that callback. Never throws.
   */
  admit(operation: Operation, context: OperationContext, admitted: AdmissionCallback): void {
    const verdict = this.authorize(operation, context);
    const approvalRefusal =
      verdict.decision === "approval"
        ? new LatchError("statement_denied", {
            reason: `${verdict.reason}; it needs approval by group "${verdict.approval?.group}", and approvals are not enabled on this gateway`,
          })
        : undefined;
    const recorded: Verdict = approvalRefusal === undefined ? verdict : { ...verdict, decision: "deny" };
    const event = { kind: "operation", sessionId: operation.sessionId, data: operationRecord(operation, recorded) } as const;
    this.audit.append(event, (failure) => {
      if (failure !== undefined) {
        this.metrics.auditWriteFailures.inc();
        this.metrics.operations.inc({ protocol: operation.protocol, decision: "deny" });
        this.log.error({ err: failure, operationId: operation.id }, "audit append failed; operation denied");
        admitted({
          allowed: false,
          error: new LatchError("audit_unavailable", {}, { cause: failure }),
          verdict: { decision: "deny", rules: [], reason: "audit log unavailable" },
        });
        return;
      }
      this.metrics.operations.inc({ protocol: operation.protocol, decision: recorded.decision });
      if (recorded.decision === "allow") admitted({ allowed: true, verdict: recorded });
      else
        admitted({
          allowed: false,
          verdict: recorded,
          error: approvalRefusal ?? new LatchError("statement_denied", { reason: recorded.reason }),
        });
    });
  }

  /** Records an operation refused before policy could judge it (unparseable, unknown portal). */
  recordRefusal(operation: Operation, error: LatchError): void {
    const verdict: Verdict = { decision: "deny", rules: [], reason: error.message };
    this.metrics.operations.inc({ protocol: operation.protocol, decision: "deny" });
    this.record({ kind: "operation", sessionId: operation.sessionId, data: operationRecord(operation, verdict) });
  }

  /** A connection closed for a protocol violation leaves a trace in the record. */
  recordProtocolError(sessionId: string | null, error: LatchError): void {
    this.record({ kind: "protocol_error", sessionId, data: { code: error.code, message: error.message } });
  }

  /** Queued behind the session's last results, so the record reads in order. */
  recordSessionEnd(sessionId: string, reason: string): void {
    this.record({ kind: "session_end", sessionId, data: { reason } });
  }

  /** Records what came back. A failure here cannot un-run the statement; it is logged and counted. */
  complete(operation: Operation, result: OperationResult): void {
    this.metrics.operationSeconds.observe({ protocol: operation.protocol }, result.durationMs / 1000);
    this.record({
      kind: "operation_result",
      sessionId: operation.sessionId,
      data: {
        operationId: operation.id,
        durationMs: Math.round(result.durationMs * 1000) / 1000,
        rows: result.rows,
        commandTags: result.commandTags,
        ...(result.error === undefined ? {} : { error: result.error }),
      },
    });
  }

  /** Writes whatever is queued (shutdown). */
  flush(): void {
    this.audit.flush();
  }

  private record(event: AuditEventInput): void {
    this.audit.append(event, (failure) => {
      if (failure === undefined) return;
      this.metrics.auditWriteFailures.inc();
      this.log.error({ err: failure, kind: event.kind }, "audit append failed");
    });
  }

  private authorize(operation: Operation, context: OperationContext): Verdict {
    try {
      return this.policy().authorize({
        identity: operation.identity,
        connection: operation.connection,
        connectionLabels: context.connectionLabels,
        statements: operation.statements,
        clientAddress: context.clientAddress,
        now: new Date(operation.receivedAt),
      });
    } catch (cause) {
      this.log.error({ err: cause }, "policy evaluation threw; denying");
      return { decision: "deny", rules: [], reason: "policy evaluation failed" };
    }
  }
}

function operationRecord(operation: Operation, verdict: Verdict): Record<string, unknown> {
  return {
    operationId: operation.id,
    mode: operation.mode,
    statements: operation.statements.map((statement) => ({
      text:
        statement.text.length > MAX_RECORDED_TEXT
          ? `${statement.text.slice(0, MAX_RECORDED_TEXT)}…`
          : statement.text,
      verb: statement.verb,
      tablesRead: statement.tablesRead,
      tablesWritten: statement.tablesWritten,
    })),
    ...(operation.parameters === undefined
      ? {}
      : {
          parameters: operation.parameters.map((row) =>
            row.map((value) =>
              value !== null && value.length > MAX_RECORDED_PARAM
                ? `${value.slice(0, MAX_RECORDED_PARAM)}…`
                : value,
            ),
          ),
        }),
    verdict: { decision: verdict.decision, rules: verdict.rules, reason: verdict.reason },
  };
}
