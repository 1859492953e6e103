import type { ApprovalStore } from "../approvals/approval-store.js";
import type { ClusterEvents } from "../cluster/cluster-events.js";
import type { SamlAssertionClaims } from "../identity/saml-assertion.js";
import type { AuditExportCursors } from "./audit-export-cursors.js";
import type { AuditRetention } from "./audit-retention.js";
import type { ConsoleSessionStore } from "./console-session-store.js";
import type { LiveSessionStore } from "./live-session-store.js";
import type { McpToolPinStore } from "./mcp-tool-pin-store.js";
import type { PendingSignInStore } from "./pending-sign-in-store.js";
import type { PrincipalBlockStore } from "./principal-block-store.js";
import type { AuditHealth, AuditReader, AuditSink } from "./store.js";

/**
 * Everything the gateway keeps, behind one implementation chosen by `openStores(config)` (open-stores.ts): the
 * embedded SQLite store under data_dir, or PostgreSQL shared by several replicas (store/postgres/). Every interface
 * returns Promises; test/store/conformance/ is the suite every implementation passes.
 */
export interface Stores {
  /** The write side of the audit log. The gateway writes it only through its one ordered writer (AuditBatcher). */
  readonly audit: AuditSink;
  /** Sees every event whose `audit.append` has resolved (read your writes), no flush needed. */
  readonly auditReader: AuditReader;
  readonly approvals: ApprovalStore;
  readonly blocks: PrincipalBlockStore;
  readonly liveSessions: LiveSessionStore;
  /** Console sign-ins (any replica accepts them). */
  readonly consoleSessions: ConsoleSessionStore;
  /** Console single sign-ons in progress (the provider's callback may land on any replica). */
  readonly pendingSignIns: PendingSignInStore;
  /** Used SAML assertion ids (token exchange and console sign-in refuse a replay through any replica). */
  readonly samlAssertionClaims: SamlAssertionClaims;
  /** Pinned tool definitions of MCP proxy connections (rug-pull protection). */
  readonly mcpToolPins: McpToolPinStore;
  /** Audit export cursors (audit-export/); absent where export is not supported yet (the shared store). */
  readonly exportCursors?: AuditExportCursors;
  /** Retention (audit.retention); absent where not supported yet (the shared store). */
  readonly retention?: AuditRetention;
  /** Tells the other gateways on this store what changed (none for the embedded store). */
  readonly events: ClusterEvents;
  /** For /healthz: rejects if the store cannot be written. */
  check(): Promise<void>;
  /** For /healthz and metrics: whether the audit log accepts writes now (no I/O). */
  health(): AuditHealth;
  /** Flushes the audit log and closes every store; idempotent. */
  close(): Promise<void>;
}
