import type { Logger } from "pino";
import type { ApprovalGate, ApprovalOutcome, ApprovalUpdate } from "../approvals/approval-types.js";
import { LatchError } from "../errors.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { Metrics } from "../server/metrics.js";
import type { DurableAuditLog } from "../store/gateway-audit-log.js";
import type { AuditEventInput } from "../store/store.js";
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
  | {
      readonly allowed: true;
      readonly verdict: Verdict;
      /** When a grant let the operation through: the session using it ends when the grant does. */
      readonly grantExpiresAt?: number;
    }
  | { readonly allowed: false; readonly error: LatchError; readonly verdict: Verdict };

const MAX_RECORDED_TEXT = 8192;
const MAX_RECORDED_PARAM = 256;

export type AdmissionCallback = (admission: Admission) => void;

/** The approval gate as the pipeline uses it; `subscribe` tells it the id of the request it just created. */
export interface PipelineApprovals {
  readonly gate: ApprovalGate & { subscribe(listener: (update: ApprovalUpdate) => void): () => void };
  /** approvals.mode. */
  readonly mode: "hold" | "defer";
  /** approvals.timeout, ms. */
  readonly timeoutMs: number;
}

/**
 * Told to the protocol once a held operation is on record, so the client hears who must approve and for how
 * long it waits. It is the approval verdict itself plus the request, so a caller that reads only the verdict
 * keeps working.
 */
export interface ApprovalHold extends Verdict {
  readonly approval: { readonly group: string; readonly quorum: number };
  readonly requestId: string;
  readonly timeoutMs: number;
  /** Epoch ms. */
  readonly expiresAt: number;
}

export type HeldCallback = (hold: ApprovalHold) => void;

/**
 * The stage order, written once: authorize -> approve -> audit -> (protocol forwards) -> record result.
 * Approve: an "approval" verdict passes at once when a grant or a released deferred approval covers it;
 * otherwise the operation is recorded as held, the protocol is told (onHeld), and the admission waits for the
 * decision, which is recorded before the protocol forwards anything.
 * Classification happened in the protocol session (it knows the dialect); masking is applied by the
 * protocol on the response path. Stages do not call each other; this class sequences them.
 */
export class OperationPipeline {
  private readonly audit: AuditBatcher;

  constructor(
    private readonly policy: () => PolicyEngine,
    auditLog: DurableAuditLog,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Absent, or returning undefined: approvals are off and an "approval" verdict is refused. */
    private readonly approvals: () => PipelineApprovals | undefined = () => undefined,
  ) {
    this.audit = new AuditBatcher(auditLog);
  }

  /**
   * Decides an operation and records the decision; `admitted` runs once the record is durable (or failed, which
   * denies). The protocol forwards only from that callback. Never throws.
   */
  admit(
    operation: Operation,
    context: OperationContext,
    admitted: AdmissionCallback,
    onHeld?: HeldCallback,
    /** Aborts when the client goes away: a held request becomes abandoned and never runs. */
    signal?: AbortSignal,
  ): void {
    const verdict = this.authorize(operation, context);
    const approvals = verdict.decision === "approval" ? this.approvals() : undefined;
    if (approvals !== undefined) {
      this.approve(operation, verdict, approvals, admitted, onHeld, signal);
      return;
    }
    const approvalRefusal =
      verdict.decision === "approval"
        ? new LatchError("statement_denied", {
            reason: `${verdict.reason}; it needs approval by group "${verdict.approval?.group}", and approvals are not enabled on this gateway`,
          })
        : undefined;
    const recorded: Verdict = approvalRefusal === undefined ? verdict : { ...verdict, decision: "deny" };
    const event = {
      kind: "operation",
      sessionId: operation.sessionId,
      data: operationRecord(operation, recorded),
    } as const;
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

  /** Stage "approve": a grant, else request approval, record the hold, wait, record the outcome. */
  private approve(
    operation: Operation,
    verdict: Verdict,
    approvals: PipelineApprovals,
    admitted: AdmissionCallback,
    onHeld: HeldCallback | undefined,
    signal: AbortSignal | undefined,
  ): void {
    const granted = approvals.gate.checkGrant(operation, verdict);
    if (granted !== undefined) {
      const by =
        granted.grantId === undefined
          ? `approved request ${granted.requestId}`
          : `grant ${granted.grantId} (request ${granted.requestId})`;
      const released: Verdict = {
        ...verdict,
        decision: "allow",
        reason: `${verdict.reason}; released by ${by}`,
      };
      this.recordOperation(
        operation,
        released,
        { requestId: granted.requestId, grantId: granted.grantId },
        admitted,
        () =>
          admitted({
            allowed: true,
            verdict: released,
            ...(granted.grantExpiresAt === undefined ? {} : { grantExpiresAt: granted.grantExpiresAt }),
          }),
      );
      return;
    }
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    if (signal?.aborted) controller.abort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    // The gate creates the request synchronously inside requestApproval and announces it: that is how the hold
    // learns the request id before the decision arrives.
    let created: { id: string; expiresAt: number } | undefined;
    const unsubscribe = approvals.gate.subscribe((update) => {
      if (created === undefined && update.type === "request" && update.request.operationId === operation.id)
        created = { id: update.request.id, expiresAt: update.request.expiresAt };
    });
    let outcome: Promise<ApprovalOutcome>;
    try {
      outcome = approvals.gate.requestApproval({
        operation,
        verdict,
        mode: approvals.mode,
        timeoutMs: approvals.timeoutMs,
        signal: controller.signal,
      });
    } catch (error) {
      outcome = Promise.reject(error);
    } finally {
      unsubscribe();
    }
    const settle = (result: ApprovalOutcome) => {
      signal?.removeEventListener("abort", onAbort);
      this.releaseOrRefuse(operation, verdict, result, admitted);
    };
    const fail = (error: unknown) => {
      this.log.error({ err: error, operationId: operation.id }, "approval gate failed; operation denied");
      settle({ decision: "denied", requestId: "", reason: "the approval gate failed" });
    };
    if (created === undefined) {
      // No new request (a defer re-run of a pending one, or none could be created): the outcome is already
      // settled; the operation is recorded with the request it names, if any.
      outcome.then((result) => {
        if (result.requestId === "") return settle(result);
        this.recordOperation(
          operation,
          verdict,
          { requestId: result.requestId, mode: approvals.mode },
          admitted,
          () => settle(result),
        );
      }, fail);
      return;
    }
    const request = created;
    const held = {
      requestId: request.id,
      mode: approvals.mode,
      expiresAt: new Date(request.expiresAt).toISOString(),
    };
    const refuse: AdmissionCallback = (refusal) => {
      controller.abort(); // the hold is not on record, so nothing may ever release it
      signal?.removeEventListener("abort", onAbort);
      admitted(refusal);
    };
    this.recordOperation(operation, verdict, held, refuse, () => {
      if (approvals.mode === "hold" && onHeld !== undefined && verdict.approval !== undefined) {
        try {
          onHeld({
            ...verdict,
            approval: verdict.approval,
            requestId: request.id,
            timeoutMs: approvals.timeoutMs,
            expiresAt: request.expiresAt,
          });
        } catch (error) {
          this.log.warn(
            { err: error, operationId: operation.id },
            "telling the client about the hold failed",
          );
        }
      }
      outcome.then(settle, fail);
    });
  }

  /** The decision on a held or deferred operation, recorded before the protocol acts on it. */
  private releaseOrRefuse(
    operation: Operation,
    verdict: Verdict,
    outcome: ApprovalOutcome,
    admitted: AdmissionCallback,
  ): void {
    if (outcome.decision === "approved") {
      const released: Verdict = {
        ...verdict,
        decision: "allow",
        reason: `${verdict.reason}; approved (request ${outcome.requestId})`,
      };
      const data = {
        requestId: outcome.requestId,
        operationId: operation.id,
        ...(outcome.grantId === undefined ? {} : { grantId: outcome.grantId }),
      };
      this.audit.append({ kind: "approval_released", sessionId: operation.sessionId, data }, (failure) => {
        if (failure !== undefined) return admitted(this.auditFailure(operation, failure));
        this.metrics.operations.inc({ protocol: operation.protocol, decision: "allow" });
        admitted({ allowed: true, verdict: released });
      });
      return;
    }
    const error = approvalError(outcome);
    // The held operation never ran: its result says so, beside the request's own approval_decided event.
    this.record({
      kind: "operation_result",
      sessionId: operation.sessionId,
      data: {
        operationId: operation.id,
        durationMs: 0,
        rows: 0,
        commandTags: [],
        error: { code: error.code, message: error.message },
        ...(outcome.requestId === "" ? {} : { requestId: outcome.requestId, approval: outcome.decision }),
      },
    });
    this.metrics.operations.inc({ protocol: operation.protocol, decision: "deny" });
    admitted({ allowed: false, verdict: { ...verdict, decision: "deny", reason: error.message }, error });
  }

  /** Records the operation with its verdict and approval facts; `then` runs once durable, else a denial. */
  private recordOperation(
    operation: Operation,
    verdict: Verdict,
    approval: Record<string, unknown>,
    refuse: AdmissionCallback,
    then: () => void,
  ): void {
    const data = { ...operationRecord(operation, verdict), approval: withoutUndefined(approval) };
    this.audit.append({ kind: "operation", sessionId: operation.sessionId, data }, (failure) => {
      if (failure !== undefined) return refuse(this.auditFailure(operation, failure));
      if (verdict.decision === "approval")
        this.metrics.operations.inc({ protocol: operation.protocol, decision: "approval" });
      then();
    });
  }

  private auditFailure(operation: Operation, failure: unknown): Admission {
    this.metrics.auditWriteFailures.inc();
    this.metrics.operations.inc({ protocol: operation.protocol, decision: "deny" });
    this.log.error({ err: failure, operationId: operation.id }, "audit append failed; operation denied");
    return {
      allowed: false,
      error: new LatchError("audit_unavailable", {}, { cause: failure }),
      verdict: { decision: "deny", rules: [], reason: "audit log unavailable" },
    };
  }

  /** Records an operation refused before policy could judge it (unparseable, unknown portal). */
  recordRefusal(operation: Operation, error: LatchError): void {
    const verdict: Verdict = { decision: "deny", rules: [], reason: error.message };
    this.metrics.operations.inc({ protocol: operation.protocol, decision: "deny" });
    this.record({
      kind: "operation",
      sessionId: operation.sessionId,
      data: operationRecord(operation, verdict),
    });
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
    this.record(
      {
        kind: "operation_result",
        sessionId: operation.sessionId,
        data: {
          operationId: operation.id,
          durationMs: Math.round(result.durationMs * 1000) / 1000,
          rows: result.rows,
          commandTags: result.commandTags,
          ...(result.error === undefined ? {} : { error: result.error }),
        },
      },
      { lazy: true },
    );
  }

  /** Resolves once everything recorded so far is durable (shutdown, tests). */
  flush(): Promise<void> {
    return this.audit.drain();
  }

  /** Records an event that must be durable before the caller goes on (session start). */
  recordDurably(event: AuditEventInput): Promise<void> {
    return this.audit.appendDurably(event);
  }

  /** Records an event without waiting; a failure is logged and counted. */
  record(event: AuditEventInput, options: { lazy?: boolean } = {}): void {
    const append = options.lazy === true ? this.audit.appendLazy : this.audit.append;
    append.call(this.audit, event, (failure) => {
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

/** What the client hears when an approval does not release its operation. */
function approvalError(outcome: Exclude<ApprovalOutcome, { decision: "approved" }>): LatchError {
  const request = outcome.requestId;
  switch (outcome.decision) {
    case "deferred":
      return new LatchError("approval_deferred", { reason: outcome.reason });
    case "expired":
      return new LatchError("approval_expired", { request, reason: outcome.reason });
    case "abandoned":
    case "denied":
      return request === ""
        ? new LatchError("approval_unavailable", { reason: outcome.reason })
        : new LatchError("approval_denied", { request, reason: outcome.reason });
  }
}

function withoutUndefined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}
