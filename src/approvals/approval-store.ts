import type { ApprovalRequest, ApprovalState, ApprovalVote, Grant } from "./approval-types.js";

/**
 * Persistence of approval requests, votes and grants: a contract of its own, separate from the audit log
 * (writing the record of what happened and keeping mutable approval state are different jobs). Declared here,
 * implemented in store/ (SQLite today, PostgreSQL next): approvals/ never imports store/. Every method returns a
 * Promise and rejects on a store failure; the service turns that into a refusal (fail closed). Every write that
 * can race (votes, consuming an approval, using a grant, revoking, closing a request) is conditional and
 * atomic in the store, so several gateways on one store cannot both win.
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
  /**
   * How many votes the request had when the effect was computed. The store applies the vote only if that is
   * still so (another vote in between would change the quorum count): otherwise it answers "changed".
   */
  readonly votesBefore: number;
  readonly state: "pending" | "approved" | "denied";
  readonly decidedAt?: number;
  readonly decisionReason?: string;
  readonly grant?: Grant;
}

export type VoteResult = "recorded" | "not_pending" | "already_voted" | "changed";

export interface ApprovalStore {
  insertRequest(request: NewApprovalRequest): Promise<void>;
  getRequest(id: string): Promise<ApprovalRequest | undefined>;
  /** Newest first (created_at, then id). */
  listRequests(filter?: RequestFilter): Promise<ApprovalRequest[]>;
  /** A still-pending request with this binding (a defer re-run reuses it instead of asking again). */
  findPendingByBinding(binding: string): Promise<ApprovalRequest | undefined>;
  /** Approved defer requests with this binding, not yet used, inside their release window at `now`. */
  findReleasable(binding: string, now: number): Promise<ApprovalRequest[]>;
  /** Marks a one-time approval used; false if someone used it first. */
  consumeRequest(id: string, now: number): Promise<boolean>;
  /**
   * Adds a vote and applies its effect atomically, only if the request is still pending, the approver has not
   * voted, and it still has `effect.votesBefore` votes. "changed": another vote came first; nothing written.
   */
  recordVote(id: string, vote: ApprovalVote, effect: VoteEffect): Promise<VoteResult>;
  /** pending -> expired/abandoned; false if it was no longer pending. */
  finishRequest(id: string, state: "expired" | "abandoned", at: number, reason: string): Promise<boolean>;
  insertGrant(grant: Grant): Promise<void>;
  getGrant(id: string): Promise<Grant | undefined>;
  /** Newest first. */
  listGrants(filter?: GrantFilter): Promise<Grant[]>;
  /** Live grants of this principal on this connection at `now`, soonest expiry first. */
  liveGrants(principal: string, connection: string, now: number): Promise<Grant[]>;
  /** Takes one use of a grant (no-op for unlimited grants); false if it is gone, used up, revoked or expired. */
  useGrant(id: string, now: number): Promise<boolean>;
  /** false if the grant was already revoked (or does not exist). */
  revokeGrant(id: string, by: string, reason: string, at: number): Promise<boolean>;
}
