import type { ApprovalRequest, ApprovalState, ApprovalVote, Grant } from "./approval-types.js";

/**
 * Persistence of approval requests, votes and grants: a contract of its own, separate from the audit log
 * (writing the record of what happened and keeping mutable approval state are different jobs). Every method
 * throws on a store failure; the service turns that into a refusal (fail closed).
 */

export type NewApprovalRequest = Omit<ApprovalRequest, "votes">;

export interface RequestFilter {
  readonly state?: ApprovalState;
  readonly limit?: number;
}

export interface GrantFilter {
  /** Only grants that are neither expired, used up nor revoked at this time (epoch ms). */
  readonly liveAt?: number;
  readonly principal?: string;
  readonly limit?: number;
}

/** What a vote changes, decided by the service and written in one transaction with the vote. */
export interface VoteEffect {
  readonly state: "pending" | "approved" | "denied";
  readonly decidedAt?: number;
  readonly decisionReason?: string;
  readonly grant?: Grant;
}

export interface ApprovalStore {
  insertRequest(request: NewApprovalRequest): void;
  getRequest(id: string): ApprovalRequest | undefined;
  /** Newest first. */
  listRequests(filter?: RequestFilter): ApprovalRequest[];
  /** A still-pending request with this binding (a defer re-run reuses it instead of asking again). */
  findPendingByBinding(binding: string): ApprovalRequest | undefined;
  /** Approved defer requests with this binding, not yet used, inside their release window at `now`. */
  findReleasable(binding: string, now: number): ApprovalRequest[];
  /** Marks a one-time approval used; false if someone used it first. */
  consumeRequest(id: string, now: number): boolean;
  /**
   * Adds a vote and applies its effect atomically, only if the request is still pending and the approver has
   * not voted. Returns "recorded", "not_pending" or "already_voted".
   */
  recordVote(
    id: string,
    vote: ApprovalVote,
    effect: VoteEffect,
  ): "recorded" | "not_pending" | "already_voted";
  /** pending -> expired/abandoned; false if it was no longer pending. */
  finishRequest(id: string, state: "expired" | "abandoned", at: number, reason: string): boolean;
  insertGrant(grant: Grant): void;
  getGrant(id: string): Grant | undefined;
  listGrants(filter?: GrantFilter): Grant[];
  /** Live grants of this principal on this connection at `now`. */
  liveGrants(principal: string, connection: string, now: number): Grant[];
  /** Takes one use of a grant (no-op for unlimited grants); false if it is gone, used up, revoked or expired. */
  useGrant(id: string, now: number): boolean;
  /** false if the grant was already revoked. */
  revokeGrant(id: string, by: string, reason: string, at: number): boolean;
  close(): void;
}
