import type { Identity } from "../identity/identity.js";
import { formatDuration } from "../identity/parse-duration.js";
import { ApprovalError } from "./approval-errors.js";
import type { VoteEffect } from "./approval-store.js";
import type { ApprovalRequest, ApprovalVote, Grant } from "./approval-types.js";

/**
 * The approver rules, pure: who may vote on a request, and what a vote changes. The service reads the request,
 * asks these functions, then writes the effect in one transaction.
 */

/** Throws the refusal that applies, in the order a person would want to hear it. */
export function assertMayVote(request: ApprovalRequest, approver: Identity, now: number): void {
  if (request.state !== "pending") {
    throw new ApprovalError(
      "request_not_pending",
      `request ${request.id} is already ${request.state}${request.decisionReason ? ` (${request.decisionReason})` : ""}; a decided request cannot be voted on`,
    );
  }
  if (now >= request.expiresAt) {
    throw new ApprovalError(
      "request_expired",
      `request ${request.id} expired at ${new Date(request.expiresAt).toISOString()}`,
    );
  }
  if (approver.subject === request.requester) {
    throw new ApprovalError(
      "self_approval",
      `${approver.subject} asked for request ${request.id} and cannot vote on it`,
    );
  }
  if (!approver.groups.includes(request.group)) {
    throw new ApprovalError(
      "not_in_group",
      `request ${request.id} must be decided by a member of group "${request.group}"; your token's groups are ${approver.groups.join(", ") || "(none)"}`,
    );
  }
  if (request.votes.some((vote) => vote.approver === approver.subject)) {
    throw new ApprovalError(
      "already_voted",
      `${approver.subject} already voted on request ${request.id}; each approver counts once`,
    );
  }
}

export function assertGrantWindow(forMs: number | undefined, maxGrantMs: number): void {
  if (forMs === undefined) return;
  if (!Number.isSafeInteger(forMs) || forMs <= 0)
    throw new ApprovalError("invalid_input", "a grant window must be positive, e.g. 30m");
  if (forMs > maxGrantMs) {
    throw new ApprovalError(
      "invalid_input",
      `a grant window of ${formatDuration(forMs)} exceeds the configured maximum (approvals.max_grant = ${formatDuration(maxGrantMs)})`,
    );
  }
}

/**
 * What a vote changes. Any deny is final. Approval needs `quorum` distinct approvers. The grant window is the
 * shortest any approver agreed to (for an upfront request, an approver without `for` agrees to what was asked);
 * if any approver said "this once", a statement request gets no grant and an upfront request a one-use grant.
 */
export function voteEffect(request: ApprovalRequest, vote: ApprovalVote, grantId: string): VoteEffect {
  const votesBefore = request.votes.length;
  if (vote.vote === "deny") {
    return {
      votesBefore,
      state: "denied",
      decidedAt: vote.at,
      decisionReason: `denied by ${vote.approver}: ${vote.reason || "no reason given"}`,
    };
  }
  const approving = [...request.votes.filter((v) => v.vote === "approve"), vote];
  if (new Set(approving.map((v) => v.approver)).size < request.quorum)
    return { votesBefore, state: "pending" };
  const approvers = approving.map((v) => v.approver).join(", ");
  const windows = approving.map(
    (v) => v.grantForMs ?? (request.mode === "upfront" ? (request.requestedForMs ?? undefined) : undefined),
  );
  const once = windows.some((window) => window === undefined);
  const decision = {
    votesBefore,
    state: "approved" as const,
    decidedAt: vote.at,
    decisionReason: `approved by ${approvers}`,
  };
  if (once && request.mode !== "upfront") return decision;
  const window = once ? request.expiresAt - request.createdAt : Math.min(...(windows as number[]));
  const grant: Grant = {
    id: grantId,
    requestId: request.id,
    principal: request.requester,
    connection: request.connection,
    accesses: request.accesses,
    group: request.group,
    quorum: request.quorum,
    usesLeft: once ? 1 : null,
    createdAt: vote.at,
    expiresAt: vote.at + window,
    revokedAt: null,
    revokedBy: null,
    revokeReason: null,
  };
  return { ...decision, grant };
}
