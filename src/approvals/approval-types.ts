import type { Actor } from "../identity/act-claim.js";
import type { Operation, Verdict } from "../operation/operation.js";
import type { StatementPreview } from "../operation/statement-preview.js";

/**
 * The shapes of just-in-time approval: requests (one statement batch, or an access asked for up front),
 * votes, grants, and the outcome the pipeline acts on.
 */

/**
 * `hold`: the statement waits in-session. `defer`: the client gets 42501 at once and may re-run the same
 * statement after approval. `upfront`: asked for through the API before any statement ran.
 */
export type ApprovalMode = "hold" | "defer" | "upfront";

/** `pending` is the only state that changes; every other state is final. */
export type ApprovalState = "pending" | "approved" | "denied" | "expired" | "abandoned";

export const APPROVAL_STATES: readonly ApprovalState[] = [
  "pending",
  "approved",
  "denied",
  "expired",
  "abandoned",
];

export interface ApprovalVote {
  readonly approver: string;
  readonly approverIssuer: string;
  readonly vote: "approve" | "deny";
  readonly reason: string;
  /** Grant window this approver agreed to, in ms; absent means "this once". */
  readonly grantForMs?: number;
  /** Epoch ms. */
  readonly at: number;
}

export interface ApprovalRequest {
  readonly id: string;
  readonly mode: ApprovalMode;
  readonly state: ApprovalState;
  /** Hex SHA-256 of (connection, principal, statement texts, parameters); empty for upfront requests. */
  readonly binding: string;
  readonly sessionId: string | null;
  readonly operationId: string | null;
  readonly connection: string;
  readonly requester: string;
  readonly requesterIssuer: string;
  readonly requesterGroups: readonly string[];
  /** The requester's delegation chain (RFC 8693 `act`), the current actor first; absent when none. */
  readonly actors?: readonly Actor[];
  /** Exact statement texts (upfront requests: none). */
  readonly statements: readonly string[];
  readonly parameters: readonly (readonly (string | null)[])[] | null;
  /** `action resourceKey` pairs the request covers, sorted (see access-keys.ts). */
  readonly accesses: readonly string[];
  readonly group: string;
  readonly quorum: number;
  readonly rules: readonly string[];
  /** Why approval is needed (policy reason), or the agent's own reason for upfront requests. */
  readonly reason: string;
  /** Upfront requests: the grant window the agent asked for, ms. */
  readonly requestedForMs: number | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly decidedAt: number | null;
  readonly decisionReason: string | null;
  /** Defer mode: when the one-time release was used. */
  readonly consumedAt: number | null;
  readonly grantId: string | null;
  readonly votes: readonly ApprovalVote[];
  /** What the rolled-back preview found (policies with @preview("true")); null when none was asked for. */
  readonly preview?: StatementPreview | null;
}

export interface Grant {
  readonly id: string;
  readonly requestId: string;
  readonly principal: string;
  readonly connection: string;
  readonly accesses: readonly string[];
  readonly group: string;
  readonly quorum: number;
  /** null: any number of uses inside the window. */
  readonly usesLeft: number | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly revokedBy: string | null;
  readonly revokeReason: string | null;
}

export type ApprovalOutcome =
  | { readonly decision: "approved"; readonly requestId: string; readonly grantId?: string }
  | {
      /** `deferred`: defer mode created (or found) the request; the client is refused until it is approved. */
      readonly decision: "denied" | "expired" | "abandoned" | "deferred";
      readonly requestId: string;
      readonly reason: string;
    };

export interface ApprovalInput {
  readonly operation: Operation;
  readonly verdict: Verdict;
  readonly mode: "hold" | "defer";
  readonly timeoutMs: number;
  /** Aborts when the client disconnects: the request becomes abandoned and never runs later. */
  readonly signal: AbortSignal;
  /**
   * Called with a new request's id before the request exists anywhere: the pipeline records the held operation
   * here, so the audit chain reads operation -> approval_requested. A rejection refuses the request (nothing is
   * created, the outcome is "denied" with no request id).
   */
  readonly beforeRequest?: (request: { readonly id: string; readonly expiresAt: number }) => Promise<void>;
  /** The request is stored (approvers can find and decide it): the moment to tell the client it is held. */
  readonly onRequested?: (request: { readonly id: string; readonly expiresAt: number }) => void;
  /** The preview the pipeline ran before deciding: stored with the request for approvers to see. */
  readonly preview?: StatementPreview;
}

/** The contract the pipeline calls. */
export interface ApprovalGate {
  requestApproval(input: ApprovalInput): Promise<ApprovalOutcome>;
  /**
   * A live grant or an approved, unused defer request for exactly this operation; consumes one-time approvals.
   * The pipeline records the release (after the operation), so the gate writes no audit event here.
   */
  checkGrant(
    operation: Operation,
    verdict: Verdict,
  ): Promise<
    { requestId: string; grantId?: string; grantExpiresAt?: number; preview?: StatementPreview } | undefined
  >;
}

/** Audit callback; the composition root maps kinds onto the audit log (see APPROVAL_AUDIT_KINDS). */
export const APPROVAL_AUDIT_KINDS = [
  "approval_requested",
  "approval_vote",
  "approval_decided",
  "approval_released", // a deferred approval or a grant let an operation through
  "grant_created",
  "grant_revoked",
] as const;
export type ApprovalAuditKind = (typeof APPROVAL_AUDIT_KINDS)[number];

export interface ApprovalAuditEvent {
  readonly kind: ApprovalAuditKind;
  readonly sessionId: string | null;
  readonly data: Readonly<Record<string, unknown>>;
}

/** Pushed to SSE subscribers and webhooks whenever a request or grant changes. */
/** `remote`: the change was made through another gateway on the same store (not to be announced again). */
export type ApprovalUpdate =
  | { readonly type: "request"; readonly request: ApprovalRequest; readonly remote?: true }
  | { readonly type: "grant"; readonly grant: Grant; readonly remote?: true };
