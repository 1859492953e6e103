import type { LatchError } from "../../src/errors.js";
import type { Operation } from "../../src/operation/operation.js";
import type {
  Admission,
  AdmitOptions,
  Admitter,
  OperationContext,
  OperationResult,
} from "../../src/pipeline/pipeline-types.js";
import type { AuditEventInput } from "../../src/store/store.js";

export interface AdmitCall {
  readonly operation: Operation;
  readonly context: OperationContext;
  readonly options: AdmitOptions | undefined;
  /** Settles this admission. */
  readonly settle: (admission: Admission) => void;
}

/**
 * The pipeline as a protocol session sees it. Each admit() waits until the test settles it (`calls[i].settle`),
 * unless `answer` decides at once. Everything recorded is kept, in order.
 */
export class FakeAdmitter implements Admitter {
  readonly calls: AdmitCall[] = [];
  readonly refusals: { operation: Operation; error: LatchError }[] = [];
  readonly completed: { operation: Operation; result: OperationResult }[] = [];
  readonly protocolErrors: { sessionId: string | null; error: LatchError }[] = [];
  readonly recorded: AuditEventInput[] = [];
  answer: ((operation: Operation) => Admission) | undefined;
  /** Unset: the session admits through admit(); set, it answers within the call (Admitter.admitNow). */
  admitNow: ((operation: Operation) => Admission | Promise<Admission>) | undefined;

  admit(operation: Operation, context: OperationContext, options?: AdmitOptions): Promise<Admission> {
    return new Promise((resolve) => {
      this.calls.push({ operation, context, options, settle: resolve });
      if (this.answer !== undefined) resolve(this.answer(operation));
    });
  }

  recordRefusal(operation: Operation, error: LatchError): void {
    this.refusals.push({ operation, error });
  }

  complete(operation: Operation, result: OperationResult): void {
    this.completed.push({ operation, result });
  }

  recordProtocolError(sessionId: string | null, error: LatchError): void {
    this.protocolErrors.push({ sessionId, error });
  }

  async recordDurably(event: AuditEventInput): Promise<void> {
    this.recorded.push(event);
  }

  record(event: AuditEventInput): void {
    this.recorded.push(event);
  }
}
