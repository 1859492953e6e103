import type { Operation, Verdict } from "../operation/operation.js";
import { grantCovers, operationAccessKeys, statementBinding } from "./approval-binding.js";
import type { ApprovalLog } from "./approval-events.js";
import type { ApprovalStore } from "./approval-store.js";
import type { ApprovalGate } from "./approval-types.js";

export type Release = NonNullable<Awaited<ReturnType<ApprovalGate["checkGrant"]>>>;

/**
 * What lets an operation policy holds for approval run now: an approved request for this very statement
 * (consumed, once) or a live grant covering its accesses (its use counted), either with the group and quorum
 * the verdict requires. Undefined when neither exists, or when the store cannot say.
 */
export async function findRelease(
  store: ApprovalStore,
  operation: Operation,
  verdict: Verdict,
  now: number,
  log?: ApprovalLog,
): Promise<Release | undefined> {
  const required = verdict.approval;
  if (verdict.decision !== "approval" || required === undefined) return undefined;
  const satisfies = (found: { group: string; quorum: number }) =>
    found.group === required.group && found.quorum >= required.quorum;
  try {
    for (const request of await store.findReleasable(statementBinding(operation), now)) {
      if (!satisfies(request) || !(await store.consumeRequest(request.id, now))) continue;
      return { requestId: request.id, ...(request.preview === null ? {} : { preview: request.preview }) };
    }
    const accesses = operationAccessKeys(operation);
    for (const grant of await store.liveGrants(operation.identity.subject, operation.connection, now)) {
      if (!satisfies(grant) || !grantCovers(grant.accesses, accesses)) continue;
      if (!(await store.useGrant(grant.id, now))) continue;
      return { requestId: grant.requestId, grantId: grant.id, grantExpiresAt: grant.expiresAt };
    }
  } catch (error) {
    // Fail closed: the operation then goes through requestApproval, which refuses if the store is down.
    log?.error({ err: error }, "approval grant check failed; treating as no grant");
  }
  return undefined;
}
