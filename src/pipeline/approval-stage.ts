import type { Logger } from "pino";
import type { ApprovalGate, ApprovalOutcome } from "../approvals/approval-types.js";
import type { Metrics } from "../observability/metrics.js";
import type { Operation, Verdict } from "../operation/operation.js";
import { previewSummary, rowCeilingOf, type StatementPreview } from "../operation/statement-preview.js";
import type { AuditEventInput } from "../store/store.js";
import type { AuditBatcher } from "./audit-batcher.js";
import { auditFailureAdmission } from "./audit-failure.js";
import { approvalError, operationRecord, resultRecord, withoutUndefined } from "./operation-record.js";
import type {
  Admission,
  AdmitOptions,
  OperationContext,
  PipelineApprovals,
  Previewed,
} from "./pipeline-types.js";

/** What a grant check found: the grant or approved request that covers the operation. */
type Granted = NonNullable<Awaited<ReturnType<ApprovalGate["checkGrant"]>>>;

/** What the approval stage is handed for one operation: the admit options, the preview it rests on, the context. */
export type ApprovalStageOptions = AdmitOptions & Previewed & { readonly context?: OperationContext };

/**
 * Stage "approve", for a verdict that needs approval: a grant (or a released deferred approval) lets it through
 * at once; otherwise the operation is recorded as held, the protocol is told (onHeld), and the admission waits
 * for the decision, which is on record before the protocol forwards anything. Never rejects: a failing gate or
 * record refuses the operation.
 */
export class ApprovalStage {
  constructor(
    private readonly audit: AuditBatcher,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Records an event without waiting (the pipeline's `record`: failures logged and counted). */
    private readonly record: (event: AuditEventInput) => void,
  ) {}

  run(
    operation: Operation,
    verdict: Verdict,
    approvals: PipelineApprovals,
    options: ApprovalStageOptions,
  ): Promise<Admission> {
    return this.approve(operation, verdict, approvals, options).catch((error: unknown) => {
      this.log.error({ err: error, operationId: operation.id }, "approval gate failed; operation denied");
      return this.refuseHeld(operation, verdict, {
        decision: "denied",
        requestId: "",
        reason: "the approval gate failed",
      });
    });
  }

  private async approve(
    operation: Operation,
    verdict: Verdict,
    approvals: PipelineApprovals,
    options: ApprovalStageOptions,
  ): Promise<Admission> {
    const granted = await approvals.gate.checkGrant(operation, verdict);
    if (granted !== undefined) return this.releaseGranted(operation, verdict, granted, options);
    return this.hold(operation, verdict, approvals, options);
  }

  /** A grant or an approved deferred request covers the operation: on record with what released it. */
  private async releaseGranted(
    operation: Operation,
    verdict: Verdict,
    granted: Granted,
    options: ApprovalStageOptions,
  ): Promise<Admission> {
    // A deferred re-run is held to the ceiling of the preview its approver saw, not to a fresh one.
    const approvedCeiling =
      options.slack === undefined || granted.grantId !== undefined
        ? undefined
        : rowCeilingOf(granted.preview, options.slack, granted.requestId);
    const by =
      granted.grantId === undefined
        ? `approved request ${granted.requestId}`
        : `grant ${granted.grantId} (request ${granted.requestId})`;
    const released: Verdict = {
      ...verdict,
      decision: "allow",
      reason: `${verdict.reason}; released by ${by}`,
    };
    const link = withoutUndefined({ requestId: granted.requestId, grantId: granted.grantId });
    try {
      // In this order in the chain: the operation, then what released it.
      const recorded = this.appendOperation(operation, released, link, options.context, options.found);
      const release = this.audit.appendDurably({
        kind: "approval_released",
        sessionId: operation.sessionId,
        data: { ...link, operationId: operation.id },
      });
      await Promise.all([recorded, release]);
    } catch (failure) {
      return this.auditFailure(operation, failure);
    }
    this.metrics.countOperation(operation.protocol, "allow");
    return {
      allowed: true,
      verdict: released,
      ...(granted.grantExpiresAt === undefined ? {} : { grantExpiresAt: granted.grantExpiresAt }),
      ...(approvedCeiling === undefined ? {} : { rowCeiling: approvedCeiling }),
    };
  }

  /** No grant: request approval, record the hold, wait for the decision, then release or refuse. */
  private async hold(
    operation: Operation,
    verdict: Verdict,
    approvals: PipelineApprovals,
    options: ApprovalStageOptions,
  ): Promise<Admission> {
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    if (options.signal?.aborted) controller.abort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    let held: { id: string; expiresAt: number } | undefined;
    let recordFailure: unknown;
    let outcome: ApprovalOutcome;
    try {
      outcome = await approvals.gate.requestApproval({
        operation,
        verdict,
        mode: approvals.mode,
        timeoutMs: approvals.timeoutMs,
        signal: controller.signal,
        ...(options.found === undefined ? {} : { preview: options.found }),
        // The held operation is on record before the request exists: the chain reads operation, then request.
        beforeRequest: async (request) => {
          try {
            await this.appendOperation(
              operation,
              verdict,
              {
                requestId: request.id,
                mode: approvals.mode,
                expiresAt: new Date(request.expiresAt).toISOString(),
              },
              options.context,
              options.found,
            );
          } catch (failure) {
            recordFailure = failure;
            throw failure;
          }
          held = request;
          this.metrics.countOperation(operation.protocol, "approval");
        },
        // Told once the request is stored: an approver acting on the id in the notice finds it.
        onRequested: (request) => {
          if (approvals.mode === "hold") this.tellHeld(operation, verdict, request, approvals, options);
        },
      });
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    if (recordFailure !== undefined) return this.auditFailure(operation, recordFailure);
    if (held === undefined && outcome.requestId !== "") {
      // No new request (a defer re-run of a pending one): recorded with the request it names.
      try {
        await this.appendOperation(
          operation,
          verdict,
          { requestId: outcome.requestId, mode: approvals.mode },
          options.context,
          options.found,
        );
      } catch (failure) {
        return this.auditFailure(operation, failure);
      }
    }
    if (outcome.decision !== "approved") return this.refuseHeld(operation, verdict, outcome);
    return this.releaseApproved(operation, verdict, outcome, options);
  }

  /** The request was approved while the operation waited: the release on record, then the admission. */
  private async releaseApproved(
    operation: Operation,
    verdict: Verdict,
    outcome: Extract<ApprovalOutcome, { decision: "approved" }>,
    options: ApprovalStageOptions,
  ): Promise<Admission> {
    const data = withoutUndefined({
      requestId: outcome.requestId,
      operationId: operation.id,
      grantId: outcome.grantId,
    });
    try {
      await this.audit.appendDurably({ kind: "approval_released", sessionId: operation.sessionId, data });
    } catch (failure) {
      return this.auditFailure(operation, failure);
    }
    this.metrics.countOperation(operation.protocol, "allow");
    const rowCeiling =
      options.slack === undefined ? undefined : rowCeilingOf(options.found, options.slack, outcome.requestId);
    return {
      allowed: true,
      verdict: {
        ...verdict,
        decision: "allow",
        reason: `${verdict.reason}; approved (request ${outcome.requestId})`,
      },
      ...(rowCeiling === undefined ? {} : { rowCeiling }),
    };
  }

  private tellHeld(
    operation: Operation,
    verdict: Verdict,
    request: { id: string; expiresAt: number },
    approvals: PipelineApprovals,
    options: AdmitOptions,
  ): void {
    if (options.onHeld === undefined || verdict.approval === undefined) return;
    try {
      options.onHeld({
        ...verdict,
        approval: verdict.approval,
        requestId: request.id,
        timeoutMs: approvals.timeoutMs,
        expiresAt: request.expiresAt,
      });
    } catch (error) {
      this.log.warn({ err: error, operationId: operation.id }, "telling the client about the hold failed");
    }
  }

  /** A held or deferred operation that was not released: its result says so, beside the request's own events. */
  private refuseHeld(
    operation: Operation,
    verdict: Verdict,
    outcome: Exclude<ApprovalOutcome, { decision: "approved" }>,
  ): Admission {
    const error = approvalError(outcome);
    this.record({
      kind: "operation_result",
      sessionId: operation.sessionId,
      data: resultRecord(operation, {
        durationMs: 0,
        rows: 0,
        commandTags: [],
        error: { code: error.code, message: error.message },
        ...(outcome.requestId === ""
          ? {}
          : { details: { requestId: outcome.requestId, approval: outcome.decision } }),
      }),
    });
    this.metrics.countOperation(operation.protocol, "deny");
    return {
      allowed: false,
      verdict: { ...verdict, decision: "deny", reason: error.message },
      error,
      ...(outcome.requestId === "" ? {} : { requestId: outcome.requestId }),
    };
  }

  private appendOperation(
    operation: Operation,
    verdict: Verdict,
    approval: Record<string, unknown>,
    context?: OperationContext,
    /** The preview the verdict rests on, on the record as for a decided operation (`latch policy replay` reads it). */
    found?: StatementPreview,
  ): Promise<void> {
    // "approval" first keeps the body's keys sorted (see operation-record.ts).
    const data = { approval: withoutUndefined(approval), ...operationRecord(operation, verdict, context) };
    return this.audit.appendDurably({
      kind: "operation",
      sessionId: operation.sessionId,
      data: found === undefined ? data : { ...data, preview: previewSummary(found) },
    });
  }

  private auditFailure(operation: Operation, failure: unknown): Admission {
    return auditFailureAdmission(this.metrics, this.log, operation, failure);
  }
}
