import type { Identity } from "../identity/identity.js";
import type { Access } from "../operation/operation.js";

/**
 * What the composition root lends a protocol whose clients ask questions about policy and approvals themselves
 * (the MCP endpoint's tools), without the protocol knowing Cedar or the approval store.
 */

/** "Could this caller ever do `action` on this connection?": a tool is listed only if so. */
export type PolicyPreview = (question: {
  readonly identity: Identity;
  readonly connection: string;
  readonly connectionLabels: Readonly<Record<string, string>>;
  readonly accesses: readonly Access[];
  readonly readOnly: boolean;
  readonly clientAddress: string;
}) => "allow" | "approval" | "deny";

/**
 * "Could any permit apply to one of these actions on this connection or anything in it, whatever the
 * request's facts?": policy scopes only (principal, action, resource), conditions taken as possibly true, so
 * `false` proves the caller can never be allowed them there. Tool annotations claim read-only only on that.
 */
export type PolicyReach = (question: {
  readonly identity: Identity;
  readonly connection: string;
  readonly actions: readonly string[];
}) => boolean;

/** An approval request as an agent may see it: its own, never anyone else's. */
export interface AccessStatus {
  readonly requestId: string;
  readonly state: string;
  readonly connection: string;
  readonly group: string;
  readonly quorum: number;
  readonly votes: number;
  readonly reason: string;
  /** Epoch ms. */
  readonly expiresAt: number;
  readonly grantId: string | null;
  readonly decisionReason: string | null;
}

export interface ApprovalDesk {
  /** The request if it exists and `identity` made it; undefined otherwise (no existence leak). */
  status(requestId: string, identity: Identity): Promise<AccessStatus | undefined>;
  /** An up-front request (becomes a grant when approved); rejects with an Error whose message says why not. */
  requestAccess(input: {
    readonly identity: Identity;
    readonly connection: string;
    readonly accesses: readonly Access[];
    readonly reason: string;
    readonly forMs?: number;
    readonly clientAddress: string;
  }): Promise<AccessStatus>;
  /** Base URL of the console for links (approvals.console_url), if configured. */
  readonly consoleUrl?: string;
}

/**
 * Rug-pull pinning as the MCP proxy sees it (the composition root lends the store's pins): what the gateway
 * pinned for an upstream tool, compared with what the upstream offers now.
 */
export interface ToolPinBook {
  /**
   * pinned_now: first sight, pinned; pinned: matches; changed: differs from the pin; unaccepted: never
   * accepted (pinning: admin). `fresh`: this definition was not waiting for acceptance before.
   */
  observe(
    connection: string,
    tool: string,
    hash: string,
    definition: string,
    trustOnFirstUse: boolean,
  ): Promise<{
    readonly state: "pinned_now" | "pinned" | "changed" | "unaccepted";
    readonly fresh?: boolean;
    readonly pin: { readonly pinnedHash: string | null };
  }>;
}
