import type { ApprovalGate, ApprovalUpdate } from "../approvals/approval-types.js";
import type { LatchError } from "../errors.js";
import type { MaskTally } from "../masking/mask-tally.js";
import type { Operation, Verdict } from "../operation/operation.js";
import type { RowCeiling, StatementPreview } from "../operation/statement-preview.js";
import type { AuditEventInput } from "../store/store.js";

/*
 * The pipeline's contract with the protocols (Admitter and what it takes and gives back), apart from the
 * stages that implement it, so that a protocol importing these types depends on no stage.
 */

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
export interface Previewed {
  readonly found?: StatementPreview;
  readonly slack?: PreviewOption["slack"];
}

/** What protocols need from the pipeline: admit operations, record what they did and what came back. */
export interface Admitter {
  admit(operation: Operation, context: OperationContext, options?: AdmitOptions): Promise<Admission>;
  /**
   * As `admit`, for a protocol that can forward in the turn the operation arrived in: the admission itself
   * when it was decided and recorded durably within this call (one statement at a time: AuditBatcher.appendNow),
   * else the promise `admit` returns. Unset (tracing wraps `admit` alone): protocols call `admit`.
   */
  admitNow?:
    | ((
        operation: Operation,
        context: OperationContext,
        options?: AdmitOptions,
      ) => Admission | Promise<Admission>)
    | undefined;
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
