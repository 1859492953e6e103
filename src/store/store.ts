import type { IndexedSession } from "../audit/session-index.js";
import type { ChainHead, ChainVerificationReport } from "../audit/verify-chain.js";

/**
 * The audit log's contracts. `store/` is the only place that touches a database; writing events and reading
 * them back are different jobs, so they are different interfaces. Every method returns a Promise, so an
 * implementation may be a file, a worker thread or a database server (see stores.ts for the whole set).
 */

export type { ChainVerification, ChainVerificationReport } from "../audit/verify-chain.js";

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
  "audit_segment_start", // an operator went on after a failed verification (latch audit new-segment)
  "audit_checkpoint", // a signed (seq, head hash, time) note for external witnesses (audit/checkpoint-note.ts)
  "audit_pruned", // retention removed the events before an anchoring checkpoint (audit.retention)
  "token_exchange", // POST /oauth/token issued a Latch token, or refused to (never holds a token)
  "mcp_tool_pinned", // an MCP proxy connection's upstream tool definition was pinned on first sight
  "mcp_tool_changed", // an upstream tool definition differs from its pin (a rug pull?): refused until accepted
  "mcp_tool_accepted", // an administrator accepted a changed (or new) upstream tool definition
  "ephemeral_role_locked", // a per-session MySQL user reached its ttl: ACCOUNT LOCK, no new logins (or it failed)
  "upstream_connected", // the PostgreSQL backend a session relays to: its process id, dialled or from the pool
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

/**
 * The write side of the audit log: the ordered, durable record. Events of one call are chained in order, and a
 * call's events follow those of every earlier call. Resolves once they are durable (a gateway crash does not
 * lose them); rejects on any failure, and the caller then denies the operation (fail closed). Callers that need
 * one order across the gateway go through one writer (the pipeline's AuditBatcher), never around it.
 */
export interface AuditSink {
  /**
   * An implementation whose write is durable when the call returns (the journal: one write(2)) returns nothing,
   * so group commit stays off the microtask queue on every statement; one that awaits a database returns the
   * Promise. Callers await either (`await undefined` is fine) or hand it to the AuditBatcher, which takes both.
   * A failure is always a rejected Promise, never a throw.
   */
  append(events: readonly AuditEventInput[]): Promise<void> | void;
  /** Resolves when everything appended so far can be read back (the reader may trail the durable record). */
  flush(): Promise<void>;
  /** The last event of the chain as this writer holds it (seq 0 and the genesis hash for an empty log). */
  head(): ChainHead;
  /** Rejects if the log cannot be written (for /healthz). */
  check(): Promise<void>;
  /**
   * Whether appends are accepted now, without waiting (for /healthz and the latch_audit_* metrics). Optional
   * while the PostgreSQL sink is being written; `Stores.health()` is required and reports the sink's.
   */
  health?(): AuditHealth;
}

/**
 * The audit writer's state. `refusing`: appends are rejected (every operation is denied with 58030) until a
 * retry succeeds; the writer retries on its own. `reason` is short and holds no secret ("disk full (SQLITE_FULL)").
 */
export interface AuditHealth {
  readonly state: "ok" | "refusing";
  /** When the refusal began (ISO-8601). */
  readonly since?: string;
  readonly reason?: string;
  /** Seconds appends were refused since the writer opened, the current refusal included. */
  readonly refusedSeconds: number;
}

/** One page of events or sessions: 100 unless asked, never more than 1000 (no page holds the whole log). */
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

export function pageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_PAGE_SIZE;
  return Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(limit)));
}

/** One session as search and the API show it: derived from chained events (audit/session-index.ts). */
export type SessionSummary = IndexedSession;

export interface SessionFilter {
  readonly subject?: string;
  readonly connection?: string;
  readonly active?: boolean;
  readonly limit?: number;
}

export interface AuditFilter {
  readonly sessionId?: string;
  /**
   * `operation_result` also matches the operations that carry a folded result (audit/folded-result.ts): read
   * through `logicalEvents` (store/logical-events.ts) to get the results themselves.
   */
  readonly kind?: AuditEventKind;
  readonly subject?: string;
  /** Only operations with this decision. */
  readonly decision?: "allow" | "deny" | "approval";
  /** Case-insensitive substring of statement text. */
  readonly text?: string;
  readonly afterSeq?: number;
  readonly limit?: number;
}

/**
 * The read side of the audit log. Nothing here runs long on the caller's thread: `verifyChain` recomputes the
 * whole chain, so implementations do it elsewhere (a worker thread, the database) and the gateway keeps serving.
 */
export interface AuditReader {
  listSessions(filter?: SessionFilter): Promise<SessionSummary[]>;
  getSession(id: string): Promise<SessionSummary | undefined>;
  /**
   * The chained events as written, oldest first; at most `limit` (default 100, at most 1000). An operation may
   * carry its session's previous result: what shows or analyses events reads `logicalEvents` instead.
   */
  events(filter?: AuditFilter): Promise<AuditEvent[]>;
  /** Recomputes every link; the report's head is what an operator anchors with `--expect-head`. */
  verifyChain(): Promise<ChainVerificationReport>;
}
