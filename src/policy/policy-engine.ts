import type { Identity } from "../identity/identity.js";
import type { Verdict } from "../pipeline/operation.js";
import type { ClassifiedStatement } from "../sql/classification.js";

/** Everything policy may look at for one operation. Built by the pipeline; no bytes, no SQL parse trees. */
export interface AuthorizationRequest {
  readonly identity: Identity;
  readonly connection: string;
  readonly connectionLabels: Readonly<Record<string, string>>;
  /** All statements of the operation: it is authorized as a whole (all run or none does). */
  readonly statements: readonly ClassifiedStatement[];
  readonly clientAddress: string;
  readonly now: Date;
}

export interface PolicyEngine {
  /** Never throws: evaluation errors come back as a deny verdict naming the problem (fail closed). */
  authorize(request: AuthorizationRequest): Verdict;
  /** Number of policies loaded, for logs and /healthz. */
  readonly policyCount: number;
}
