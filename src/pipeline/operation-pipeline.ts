import type { Logger } from "pino";
import type { ApprovalGate, ApprovalOutcome, ApprovalUpdate } from "../approvals/approval-types.js";
import { LatchError } from "../errors.js";
import type { MaskTally } from "../masking/mask-tally.js";
import type { Metrics } from "../observability/metrics.js";
import type { Operation, Verdict } from "../operation/operation.js";
import {
  previewSummary,
  type RowCeiling,
  rowCeilingOf,
  type StatementPreview,
} from "../operation/statement-preview.js";
import type { PolicyEngine } from "../policy/policy-engine.js";
import type { AuditEventInput } from "../store/store.js";
import { type AuditAppender, AuditBatcher } from "./audit-batcher.js";
import { approvalError, operationRecord, resultRecord, withoutUndefined } from "./operation-record.js";
import { runPreview, wantsPreview } from "./preview-stage.js";

export interface OperationContext {
  readonly clientAddress: string;
  readonly connectionLabels: Readonly<Record<string, string>>;
}

export interface OperationResult {
  readonly durationMs: number;
  readonly rows: number;
  readonly commandTags: readonly string[];
  readonly error?: { readonly code: string; readonly message: string };
  /** Protocol fields for the record (HTTP: status, sizes, masked previews). JSON-serialisable, never secrets. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export type Admission =
  | {
      readonly allowed: true;
      readonly verdict: Verdict;
      /** When a grant let the operation through: the session using it ends when the grant does. */
      readonly grantExpiresAt?: number;
      /**
       * The decision rested on a preview: the protocol runs the operation so that it is rolled back and refused
       * when it changes more rows than this (docs/approvals.md, "Preview, then commit").
       */
      readonly rowCeiling?: RowCeiling;
    }
  | {
      readonly allowed: false;
      readonly error: LatchError;
      readonly verdict: Verdict;
      /** The approval request that did not (yet) release it: a deferred one is re-run after approval. */
      readonly requestId?: string;
    };

/** The approval gate as the pipeline uses it. */
export interface PipelineApprovals {
  readonly gate: ApprovalGate & { subscribe?(listener: (update: ApprovalUpdate) => void): () => void };
  /** approvals.mode. */
  readonly mode: "hold" | "defer";
  /** approvals.timeout, ms. */
  readonly timeoutMs: number;
}

/**
 * Told to the protocol once a held operation is on record, so the client hears who must approve and for how
 * long it waits. It is the approval verdict itself plus the request.
 */
export interface ApprovalHold extends Verdict {
  readonly approval: { readonly group: string; readonly quorum: number };
  readonly requestId: string;
  readonly timeoutMs: number;
  /** Epoch ms. */
  readonly expiresAt: number;
}

export interface AdmitOptions {
  /** Called once, when the operation is held for approval and on record (before the admission settles). */
  readonly onHeld?: (hold: ApprovalHold) => void;
  /** Aborts when the client goes away: a held request becomes abandoned and never runs. */
  readonly signal?: AbortSignal;
  /**
   * Overrides approvals.mode for this operation: a protocol whose client cannot wait (an MCP tool call without
   * a progress token) defers, and the same call made again after approval runs once.
   */
  readonly mode?: "hold" | "defer";
  /**
   * A protocol's own rule (an MCP proxy connection's argument rule in latch.yaml) that makes an allowed operation
   * wait for approval by `group`. It only ever tightens: a denial stays a denial, a policy approval stays as is.
   */
  readonly requireApproval?: { readonly group: string; readonly rule: string; readonly reason: string };
  /**
   * The protocol can preview this operation (run it in a transaction it rolls back): called only when a
   * `@preview("true")` permit's scope covers it (preview-stage.ts), so the common case allocates nothing.
   * Absent: never previewed.
   */
  readonly preview?: ((operation: Operation) => PreviewOption) | undefined;
}

export interface PreviewOption {
  readonly run: () => Promise<StatementPreview>;
  /** approvals.preview.row_slack: how far beyond the previewed rows the real run may go. */
  readonly slack: { readonly rows: number; readonly percent: number };
}

/** An admission the preview stage decided: the preview the verdict rests on, and the slack of its ceiling. */
interface Previewed {
  readonly found?: StatementPreview;
  readonly slack?: PreviewOption["slack"];
}

/** What protocols need from the pipeline: admit operations, record what they did and what came back. */
export interface Admitter {
  admit(operation: Operation, context: OperationContext, options?: AdmitOptions): Promise<Admission>;
  recordRefusal(operation: Operation, error: LatchError): void;
  complete(operation: Operation, result: OperationResult): void;
  recordProtocolError(sessionId: string | null, error: LatchError): void;
  /** Durable before it resolves; rejects when the store cannot write. */
  recordDurably(event: AuditEventInput): Promise<void>;
  /** Fire and forget; failures are logged and counted. */
  record(event: AuditEventInput, options?: { lazy?: boolean }): void;
  /**
   * Set only while tracing is on (src/tracing/operation-tracing.ts): told what masking did to an operation's
   * result just before `complete`. Protocols call it as `traceMask?.(...)`, so with tracing off it costs a
   * property read and allocates nothing.
   */
  traceMask?: (operation: Operation, tally: MaskTally) => void;
}

/**
 * The stage order, written once: authorize -> approve -> audit -> (protocol forwards) -> record result.
 * Approve: an "approval" verdict passes at once when a grant or a released deferred approval covers it;
 * otherwise the operation is recorded as held, the protocol is told (onHeld), and the admission waits for the
 * decision, which is recorded before the protocol forwards anything.
 * Classification happened in the protocol session (it knows the dialect); masking is applied by the
 * protocol on the response path. Stages do not call each other; this class sequences them.
 */
export class OperationPipeline implements Admitter {
  private readonly audit: AuditBatcher;

  constructor(
    private readonly policy: () => PolicyEngine,
    auditLog: AuditAppender | AuditBatcher,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Absent, or returning undefined: approvals are off and an "approval" verdict is refused. */
    private readonly approvals: () => PipelineApprovals | undefined = () => undefined,
  ) {
    this.audit = auditLog instanceof AuditBatcher ? auditLog : new AuditBatcher(auditLog);
  }

  /**
   * Decides an operation and records the decision; resolves once the record is durable (a failed record
   * denies). The protocol forwards only after it resolves with `allowed`. Never rejects.
   */
  admit(operation: Operation, context: OperationContext, options: AdmitOptions = {}): Promise<Admission> {
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
  ): Promise<Admission> {
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
    return this.approve(operation, verdict, chosen, { ...options, context }).catch((error: unknown) => {
      this.log.error({ err: error, operationId: operation.id }, "approval gate failed; operation denied");
      return this.refuseHeld(operation, verdict, {
        decision: "denied",
        requestId: "",
        reason: "the approval gate failed",
      });
    });
  }

  /** Stage "audit" for a verdict that needs no approval: on record, then the admission. */
  private decide(
    operation: Operation,
    verdict: Verdict,
    refusal?: LatchError,
    context?: OperationContext,
    /** The preview the verdict rests on: its counts go on the record (approval requests carry their own). */
    found?: StatementPreview,
  ): Promise<Admission> {
    const data = operationRecord(operation, verdict, context);
    return new Promise((resolve) => {
      this.audit.append(
        {
          kind: "operation",
          sessionId: operation.sessionId,
          data: found === undefined ? data : { ...data, preview: previewSummary(found) },
        },
        (failure) => {
          if (failure !== undefined) return resolve(this.auditFailure(operation, failure));
          this.metrics.operations.inc({ protocol: operation.protocol, decision: verdict.decision });
          if (verdict.decision === "allow") return resolve({ allowed: true, verdict });
          resolve({
            allowed: false,
            verdict,
            error: refusal ?? new LatchError("statement_denied", { reason: verdict.reason }),
          });
        },
      );
    });
  }

  /** Stage "approve": a grant, else request approval, record the hold, wait, record the outcome. */
  private async approve(
    operation: Operation,
    verdict: Verdict,
    approvals: PipelineApprovals,
    options: AdmitOptions & Previewed & { readonly context?: OperationContext },
  ): Promise<Admission> {
    const granted = await approvals.gate.checkGrant(operation, verdict);
    if (granted !== undefined) {
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
      this.metrics.operations.inc({ protocol: operation.protocol, decision: "allow" });
      return {
        allowed: true,
        verdict: released,
        ...(granted.grantExpiresAt === undefined ? {} : { grantExpiresAt: granted.grantExpiresAt }),
        ...(approvedCeiling === undefined ? {} : { rowCeiling: approvedCeiling }),
      };
    }
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
          this.metrics.operations.inc({ protocol: operation.protocol, decision: "approval" });
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
    this.metrics.operations.inc({ protocol: operation.protocol, decision: "allow" });
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

  /** Records what came back. A failure here cannot un-run the statement; it is logged and counted. */
  complete(operation: Operation, result: OperationResult): void {
    this.metrics.operationSeconds.observe({ protocol: operation.protocol }, result.durationMs / 1000);
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
    return this.audit.appendDurably(event);
  }

  /** Records an event without waiting; a failure is logged and counted. */
  record(event: AuditEventInput, options: { lazy?: boolean } = {}): void {
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
