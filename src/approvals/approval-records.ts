import { previewSummary } from "../operation/statement-preview.js";
import type { ApprovalOutcome, ApprovalRequest } from "./approval-types.js";

/** How a request reads to the pipeline (its outcome) and to the audit log (event bodies). Pure. */

export function deferred(request: ApprovalRequest): ApprovalOutcome {
  return {
    decision: "deferred",
    requestId: request.id,
    reason: `request ${request.id} needs approval by ${request.quorum === 1 ? "one member" : `${request.quorum} members`} of group ${request.group}; re-run the statement once it is approved`,
  };
}

export function outcomeOf(request: ApprovalRequest): ApprovalOutcome {
  switch (request.state) {
    case "approved":
      return {
        decision: "approved",
        requestId: request.id,
        ...(request.grantId === null ? {} : { grantId: request.grantId }),
      };
    case "pending":
      return { decision: "denied", requestId: request.id, reason: "the request is still pending" };
    default:
      return {
        decision: request.state,
        requestId: request.id,
        reason: request.decisionReason ?? request.state,
      };
  }
}

export function requestedData(request: ApprovalRequest): Record<string, unknown> {
  return {
    requestId: request.id,
    mode: request.mode,
    connection: request.connection,
    requester: request.requester,
    group: request.group,
    quorum: request.quorum,
    rules: request.rules,
    binding: request.binding,
    accesses: request.accesses,
    statements: request.statements.map((text) => (text.length > 8192 ? `${text.slice(0, 8192)}…` : text)),
    reason: request.reason,
    expiresAt: new Date(request.expiresAt).toISOString(),
    ...(request.operationId === null ? {} : { operationId: request.operationId }),
    ...(request.preview == null ? {} : { preview: previewSummary(request.preview) }),
  };
}

export function decidedData(request: ApprovalRequest): Record<string, unknown> {
  return {
    requestId: request.id,
    state: request.state,
    reason: request.decisionReason ?? "",
    approvers: request.votes.filter((vote) => vote.vote === "approve").map((vote) => vote.approver),
    ...(request.grantId === null ? {} : { grantId: request.grantId }),
  };
}
