import type { Identity } from "../identity/identity.js";
import type { OperationStep, Verdict } from "../operation/operation.js";

/** Everything policy may look at for one operation. Built by the pipeline; no bytes, no SQL parse trees, no protocol. */
export interface AuthorizationRequest {
  readonly identity: Identity;
  readonly connection: string;
  readonly connectionLabels: Readonly<Record<string, string>>;
  /** All steps of the operation: it is authorized as a whole (all run or none does). */
  readonly steps: readonly OperationStep[];
  readonly clientAddress: string;
  readonly now: Date;
}

export interface PolicyEngine {
  /** Never throws: evaluation errors come back as a deny verdict naming the problem (fail closed). */
  authorize(request: AuthorizationRequest): Verdict;
  /** Number of policies loaded, for logs and /healthz. */
  readonly policyCount: number;
}
