import type { Logger } from "pino";
import { recordedSessionFacts } from "../audit/session-facts.js";
import { LatchError } from "../errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { Operation, Verdict } from "../operation/operation.js";
import { previewSummary, rowCeilingOf, type StatementPreview } from "../operation/statement-preview.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { AuditEventInput } from "../store/store.js";
import { ApprovalStage } from "./approval-stage.js";
import { type AuditAppender, AuditBatcher } from "./audit-batcher.js";
import { auditFailureAdmission } from "./audit-failure.js";
import { operationRecord, resultRecord } from "./operation-record.js";
import type {
  Admission,
  AdmitOptions,
  Admitter,
  OperationContext,
  OperationResult,
  PipelineApprovals,
  Previewed,
  PreviewOption,
} from "./pipeline-types.js";
import { runPreview, wantsPreview } from "./preview-stage.js";

/**
 * The stage order, written once: authorize -> (preview) -> approve -> audit -> (protocol forwards) -> record
 * result. Approve (approval-stage.ts): an "approval" verdict passes at once when a grant or a released deferred
 * approval covers it; otherwise the operation is recorded as held, the protocol is told (onHeld), and the
 * admission waits for the decision, which is recorded before the protocol forwards anything.
 * Classification happened in the protocol session (it knows the dialect); masking is applied by the
 * protocol on the response path. Stages do not call each other; this class sequences them.
 */
export class OperationPipeline implements Admitter {
  private readonly audit: AuditBatcher;
  private readonly approval: ApprovalStage;

  constructor(
    private readonly policy: () => PolicyEngine,
    auditLog: AuditAppender | AuditBatcher,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Absent, or returning undefined: approvals are off and an "approval" verdict is refused. */
    private readonly approvals: () => PipelineApprovals | undefined = () => undefined,
  ) {
    this.audit = auditLog instanceof AuditBatcher ? auditLog : new AuditBatcher(auditLog);
    this.approval = new ApprovalStage(this.audit, metrics, log, (event) => this.record(event));
  }

  /**
   * Decides an operation and records the decision; resolves once the record is durable (a failed record
   * denies). The protocol forwards only after it resolves with `allowed`. Never rejects.
   */
  admit(operation: Operation, context: OperationContext, options: AdmitOptions = {}): Promise<Admission> {
    const decided = this.admitting(operation, context, options);
    return decided instanceof Promise ? decided : Promise.resolve(decided);
  }

  /** Admitter.admitNow (tracing unsets it: it wraps `admit` alone). */
  admitNow: Admitter["admitNow"] = (operation, context, options = {}) =>
    this.admitting(operation, context, options);

  private admitting(
    operation: Operation,
    context: OperationContext,
    options: AdmitOptions,
  ): Admission | Promise<Admission> {
    const verdict = this.withApprovalFloor(this.authorize(operation, context), options);
    const policy = options.preview === undefined ? undefined : this.policy();
    if (policy?.wantsPreview !== undefined && wantsPreview(policy, verdict, this.request(operation, context)))
      return this.admitPreviewed(operation, context, options, options.preview!(operation));
    return this.admitDecided(operation, verdict, context, options);
  }

  /** Stage "preview" (preview-stage.ts): the preview runs, then the final decision is taken with it. */
  private async admitPreviewed(
    operation: Operation,
    context: OperationContext,
    options: AdmitOptions,
    preview: PreviewOption,
  ): Promise<Admission> {
    const found = await runPreview(preview, this.log, operation.id);
    const facts = found.status === "ran" ? { rows: found.rows } : undefined;
    const verdict = this.withApprovalFloor(this.authorize(operation, context, facts), options);
    const admission = await this.admitDecided(operation, verdict, context, {
      ...options,
      found,
      slack: preview.slack,
    });
    // Allowed outright on the preview's count: the real run is held to that count too.
    if (!admission.allowed || verdict.decision !== "allow") return admission;
    const rowCeiling = rowCeilingOf(found, preview.slack, "");
    return rowCeiling === undefined ? admission : { ...admission, rowCeiling };
  }

  /** A protocol's own approval rule (AdmitOptions.requireApproval) only ever turns an allow into a hold. */
  private withApprovalFloor(judged: Verdict, options: AdmitOptions): Verdict {
    const floor = options.requireApproval;
    if (floor === undefined || judged.decision !== "allow") return judged;
    return {
      decision: "approval",
      rules: [...judged.rules, floor.rule],
      reason: `${judged.reason}; ${floor.reason}`,
      approval: { group: floor.group, quorum: 1 },
    };
  }

  private admitDecided(
    operation: Operation,
    verdict: Verdict,
    context: OperationContext,
    options: AdmitOptions & Previewed,
  ): Admission | Promise<Admission> {
    // The common case (no approval) stays one promise: this runs for every statement.
    if (verdict.decision !== "approval")
      return this.decide(operation, verdict, undefined, context, options.found);
    const approvals = this.approvals();
    if (approvals === undefined) {
      const refusal = new LatchError("statement_denied", {
        reason: `${verdict.reason}; it needs approval by group "${verdict.approval?.group}", and approvals are not enabled on this gateway`,
      });
      return this.decide(operation, { ...verdict, decision: "deny" }, refusal, context);
    }
    const chosen = options.mode === undefined ? approvals : { ...approvals, mode: options.mode };
    return this.approval.run(operation, verdict, chosen, { ...options, context });
  }

  /**
   * Stage "audit" for a verdict that needs no approval: on record, then the admission. Returned as is when the
   * record was written within this call (AuditBatcher.appendNow), else as a promise of it.
   */
  private decide(
    operation: Operation,
    verdict: Verdict,
    refusal?: LatchError,
    context?: OperationContext,
    /** The preview the verdict rests on: its counts go on the record (approval requests carry their own). */
    found?: StatementPreview,
  ): Admission | Promise<Admission> {
    const data = operationRecord(operation, verdict, context);
    let now: Admission | undefined;
    let later: ((admission: Admission) => void) | undefined;
    this.audit.appendNow(
      {
        kind: "operation",
        sessionId: operation.sessionId,
        data: found === undefined ? data : { ...data, preview: previewSummary(found) },
      },
      (failure) => {
        const admission =
          failure === undefined
            ? this.decided(operation, verdict, refusal)
            : this.auditFailure(operation, failure);
        if (later === undefined) now = admission;
        else later(admission);
      },
    );
    return (
      now ??
      new Promise((resolve) => {
        later = resolve;
      })
    );
  }

  /** The admission of a recorded verdict. */
  private decided(operation: Operation, verdict: Verdict, refusal: LatchError | undefined): Admission {
    this.metrics.countOperation(operation.protocol, verdict.decision);
    if (verdict.decision === "allow") return { allowed: true, verdict };
    return {
      allowed: false,
      verdict,
      error: refusal ?? new LatchError("statement_denied", { reason: verdict.reason }),
    };
  }

  private auditFailure(operation: Operation, failure: unknown): Admission {
    return auditFailureAdmission(this.metrics, this.log, operation, failure);
  }

  /** Records an operation refused before policy could judge it (unparseable, unknown portal). */
  recordRefusal(operation: Operation, error: LatchError): void {
    const verdict: Verdict = { decision: "deny", rules: [], reason: error.message };
    this.metrics.countOperation(operation.protocol, "deny");
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

  /** Records what came back. A failure here cannot un-run the statement; it is logged and counted. */
  complete(operation: Operation, result: OperationResult): void {
    this.metrics.observeOperationSeconds(operation.protocol, result.durationMs / 1000);
    // Held for the session's next operation to carry (audit-batcher.ts): one chained event per statement.
    const event: AuditEventInput = {
      kind: "operation_result",
      sessionId: operation.sessionId,
      data: resultRecord(operation, result),
    };
    this.audit.appendResult(event, this.failureLogger(event));
  }

  /** Resolves once everything recorded so far is durable (shutdown, tests). */
  flush(): Promise<void> {
    return this.audit.drain();
  }

  /** Records an event that must be durable before the caller goes on (session start, approval votes). */
  recordDurably(event: AuditEventInput): Promise<void> {
    // A durable session_start lets the session's operations leave its facts out (audit/session-facts.ts).
    if (event.kind !== "session_start") return this.audit.appendDurably(event);
    return this.audit.appendDurably(event).then(() => recordedSessionFacts.note(event));
  }

  /** Records an event without waiting; a failure is logged and counted. */
  record(event: AuditEventInput, options: { lazy?: boolean } = {}): void {
    if (event.kind === "session_end") recordedSessionFacts.note(event);
    const append = options.lazy === true ? this.audit.appendLazy : this.audit.append;
    append.call(this.audit, event, this.failureLogger(event));
  }

  private failureLogger(event: AuditEventInput): (failure: unknown) => void {
    return (failure) => {
      if (failure === undefined) return;
      this.metrics.auditWriteFailures.inc();
      this.log.error({ err: failure, kind: event.kind }, "audit append failed");
    };
  }

  private request(operation: Operation, context: OperationContext, preview?: { rows: number }) {
    return {
      identity: operation.identity,
      connection: operation.connection,
      connectionLabels: context.connectionLabels,
      steps: operation.steps,
      clientAddress: context.clientAddress,
      now: new Date(operation.receivedAt),
      ...(preview === undefined ? {} : { preview }),
    };
  }

  private authorize(operation: Operation, context: OperationContext, preview?: { rows: number }): Verdict {
    try {
      return this.policy().authorize(this.request(operation, context, preview));
    } catch (cause) {
      this.log.error({ err: cause }, "policy evaluation threw; denying");
      return { decision: "deny", rules: [], reason: "policy evaluation failed" };
    }
  }
}
