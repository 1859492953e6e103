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
  /** What a rolled-back preview of the operation found (`context.preview`); absent when none ran. */
  readonly preview?: { readonly rows: number };
}

export interface PolicyEngine {
  /** Never throws: evaluation errors come back as a deny verdict naming the problem (fail closed). */
  authorize(request: AuthorizationRequest): Verdict;
  /**
   * True when a permit annotated `@preview("true")` has a scope (principal, action, resource; its conditions are
   * not evaluated) that covers an access of a step that can change data: the pipeline then runs a preview and
   * decides again with `context.preview`. Absent or false: no preview.
   */
  wantsPreview?(request: AuthorizationRequest): boolean;
  /** Number of policies loaded, for logs and /healthz. */
  readonly policyCount: number;
}
