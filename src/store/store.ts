/**
 * Persistence contracts. `store/` is the only place that touches a database; writing events and reading them
 * back are different jobs, so they are different interfaces.
 */

/** Audit event kinds are snake_case and never renamed: recordings outlive code. */
export const AUDIT_EVENT_KINDS = [
  "session_start",
  "session_end",
  "auth_failure",
  "operation", // a statement batch with its verdict, written before forwarding
  "operation_result", // what came back: rows, tags, error, duration
  "protocol_error",
  "gateway_start",
  "gateway_stop",
  "approval_requested", // an operation (or an agent up front) asked for approval
  "approval_vote", // one approver's approve/deny, written before it takes effect
  "approval_decided", // a request became approved, denied, expired or abandoned
  "approval_released", // an approval or a grant let an operation through
  "grant_created",
  "grant_revoked",
  "session_recording", // asciicast v2 chunks of an SSH session
  "ephemeral_role_created", // a per-session upstream role was created (issue 5)
  "ephemeral_role_dropped", // it was dropped, or disabled (NOLOGIN + revoke) when objects depend on it
  "session_killed", // an administrator ended a live session
  "principal_blocked",
  "principal_unblocked",
] as const;
export type AuditEventKind = (typeof AUDIT_EVENT_KINDS)[number];

export interface AuditEventInput {
  readonly kind: AuditEventKind;
  readonly sessionId: string | null;
  /** JSON-serialisable body. Never holds tokens, passwords or clear masked values. */
  readonly data: Readonly<Record<string, unknown>>;
}

export interface AuditEvent extends AuditEventInput {
  /** Position in the chain, 1-based, gap-free. */
  readonly seq: number;
  /** ISO-8601 UTC time the event was appended. */
  readonly ts: string;
  /** Hex SHA-256 of the previous event ("0"*64 for the first). */
  readonly prevHash: string;
  /** Hex SHA-256 over (prevHash, seq, ts, kind, sessionId, canonical JSON of data). */
  readonly hash: string;
}

export interface AuditSink {
  /**
   * Appends synchronously and durably enough to survive a gateway crash (WAL). Throws on any failure: the
   * caller must then deny the operation (fail closed).
   */
  append(event: AuditEventInput): AuditEvent;
  /** Several events in one transaction, chained in order. */
  appendMany(events: readonly AuditEventInput[]): AuditEvent[];
}

export interface SessionSummary {
  readonly id: string;
  readonly protocol: string;
  readonly connection: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly clientAddress: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly endReason: string | null;
  readonly operations: number;
  readonly denied: number;
}

export interface SessionFilter {
  readonly subject?: string;
  readonly connection?: string;
  readonly active?: boolean;
  readonly limit?: number;
}

export interface AuditFilter {
  readonly sessionId?: string;
  readonly kind?: AuditEventKind;
  readonly subject?: string;
  /** Only operations with this decision. */
  readonly decision?: "allow" | "deny" | "approval";
  /** Case-insensitive substring of statement text. */
  readonly text?: string;
  readonly afterSeq?: number;
  readonly limit?: number;
}

export interface ChainVerification {
  readonly ok: boolean;
  readonly events: number;
  /** First broken link, when not ok. */
  readonly firstBadSeq?: number;
  readonly problem?: string;
}

export interface AuditReader {
  listSessions(filter?: SessionFilter): SessionSummary[];
  getSession(id: string): SessionSummary | undefined;
  events(filter?: AuditFilter): AuditEvent[];
  verifyChain(): ChainVerification;
}

export interface Store extends AuditSink, AuditReader {
  /** Cheap liveness probe for /healthz: throws if the store cannot be written. */
  check(): void;
  close(): void;
}
