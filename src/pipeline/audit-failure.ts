import type { Logger } from "pino";
import { LatchError } from "../errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { Operation } from "../operation/operation.js";
import type { Admission } from "./pipeline-types.js";

/** A record that could not be written denies its operation (fail closed): counted, logged, refused. */
export function auditFailureAdmission(
  metrics: Metrics,
  log: Logger,
  operation: Operation,
  failure: unknown,
): Admission {
  metrics.auditWriteFailures.inc();
  metrics.countOperation(operation.protocol, "deny");
  log.error({ err: failure, operationId: operation.id }, "audit append failed; operation denied");
  return {
    allowed: false,
    error: new LatchError("audit_unavailable", {}, { cause: failure }),
    verdict: { decision: "deny", rules: [], reason: "audit log unavailable" },
  };
}
