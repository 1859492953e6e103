/** The admin API's shapes as the console reads them (docs/openapi.yaml is the contract). */
export interface Me {
  subject: string;
  issuer: string;
  groups: string[];
  expiresAt: number;
  roles: { admin: boolean; auditor: boolean; read: boolean };
  /** Present when signed in through the console (cookie session). */
  csrf?: string;
  via?: "cookie" | "token";
}

export interface Vote {
  approver: string;
  vote: "approve" | "deny";
  reason: string;
  grantForMs?: number;
  at: number;
}

export interface ApprovalRequest {
  id: string;
  mode: "hold" | "defer" | "upfront";
  state: "pending" | "approved" | "denied" | "expired" | "abandoned";
  sessionId: string | null;
  connection: string;
  requester: string;
  requesterIssuer: string;
  requesterGroups: string[];
  statements: string[];
  parameters: (string | null)[][] | null;
  accesses: string[];
  group: string;
  quorum: number;
  rules: string[];
  reason: string;
  requestedForMs: number | null;
  createdAt: number;
  expiresAt: number;
  decidedAt: number | null;
  decisionReason: string | null;
  grantId: string | null;
  votes: Vote[];
  /** Delegation chain (RFC 8693 `act`), the current actor first, when someone acted for the requester. */
  actors?: { subject: string; issuer?: string }[];
  /** The rolled-back preview of a held write (docs/approvals.md, "Preview, then commit"). */
  preview?: StatementPreview | null;
}

export type StatementPreview =
  | {
      status: "ran";
      rows: number;
      tagRows: number;
      commandTag: string;
      tables: { table: string; inserted: number; updated: number; deleted: number }[];
      plan: string;
      sample?: { columns: string[]; rows: (string | null)[][]; truncated: boolean };
      notes?: string[];
      durationMs: number;
      at: number;
    }
  | { status: "refused" | "failed"; reason: string; at: number };

export interface Grant {
  id: string;
  requestId: string;
  principal: string;
  connection: string;
  accesses: string[];
  group: string;
  usesLeft: number | null;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revokedBy: string | null;
  revokeReason: string | null;
}

export interface Session {
  id: string;
  protocol: string;
  connection: string;
  subject: string;
  groups: string[];
  clientAddress: string;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  operations: number;
  denied: number;
}

export interface LiveSession {
  id: string;
  protocol: string;
  connection: string;
  subject: string;
  gatewayId?: string;
}

export interface AuditEvent {
  seq: number;
  ts: string;
  kind: string;
  sessionId: string | null;
  data: Record<string, unknown>;
}

/**
 * How many chained events a page of the API's (logical) events came from: a result folded into its session's
 * next operation is listed as its own event with that operation's seq (docs/audit.md, "Folded results"), so a
 * full page (`limit` chained events) may list more than `limit`. Paging decisions count seqs, not events.
 */
export function chainedCount(events: readonly AuditEvent[]): number {
  return new Set(events.map((event) => event.seq)).size;
}

export interface Blocked {
  principal: string;
  blockedBy: string;
  reason: string;
  blockedAt: string;
}
