import type tls from "node:tls";
import type { Logger } from "pino";
import type { ConnectionConfig, LatchConfig } from "../config/schema.js";
import type { LatchError } from "../errors.js";
import type { Metrics } from "../observability/metrics.js";
import type { Admitter } from "../pipeline/pipeline-types.js";
import type { SessionGate } from "../session/session-gate.js";
import type { ApprovalDesk, PolicyPreview, PolicyReach, ToolPinBook } from "./agent-services.js";
import type { AgentToolRunners } from "./agent-tools.js";
import type { HttpMount } from "./http-mount.js";

/** What the composition root hands every protocol: the shared pieces, never a store or a policy engine. */
export interface ProtocolContext {
  readonly config: LatchConfig;
  /** Identity, block list, connection lookup, credentials, session_start, registry, lifetime. */
  readonly gate: SessionGate;
  /** Authorize, approve, audit; record results. */
  readonly pipeline: Admitter;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** The gateway's TLS certificate (configured or generated). */
  readonly tls: tls.SecureContext;
  /** A stable id of this gateway's data dir (names of per-session upstream users carry it). */
  readonly gatewayId: string;
  /**
   * Other gateways of this store that stopped sending heartbeats: what they left upstream (per-session users)
   * is theirs no more, and this gateway may clean it up.
   */
  readonly staleGateways: () => Promise<ReadonlySet<string>>;
  /** Subscribes to a gateway of this store being found gone; returns the unsubscribe function. */
  readonly onGatewaysGone: (listener: () => void) => () => void;
  /** Handlers other protocols mount on the HTTP listener (the MCP endpoint); empty when none does. */
  readonly httpMounts: readonly HttpMount[];
  /** Policy asked ahead of an operation (which tools an MCP caller may see); absent in unit contexts. */
  readonly policyPreview?: PolicyPreview;
  /** What policy could ever permit (tool annotations); absent in unit contexts, then no tool claims read-only. */
  readonly policyReach?: PolicyReach;
  /** Approval requests as agents see them (MCP `request_access`, `access_status`). */
  readonly approvalDesk?: ApprovalDesk;
  /** Pinned tool definitions of MCP proxy connections; absent, `type: mcp` connections are refused. */
  readonly toolPins?: ToolPinBook;
  /** What protocols lend the MCP tools (ssh_exec, http_request), filled from `agentTools` before mounts are made. */
  readonly agentTools?: AgentToolRunners;
}

export interface ProtocolListener {
  readonly address: { readonly host: string; readonly port: number };
  /** Facts for the "gateway ready" log line (e.g. the SSH host key fingerprint). */
  readonly details?: Readonly<Record<string, string>>;
  /** No new connections; open ones stay (the shutdown drain lets their running statements finish). */
  stopAccepting(): void;
  /** Stops accepting; live sessions are ended through the registry before this is called. */
  close(): Promise<void>;
}

/**
 * One protocol, as the composition root sees it. Every protocol folder has the same files (`module`,
 * `front`, `session`, `upstream`, `errors`, `codec` where it has bytes of its own) and one of these; the
 * root opens a protocol's listener only when a connection of its type is configured.
 */
export interface ProtocolModule {
  /** "postgres", "ssh", ...: the `protocol` of its sessions and operations, and its metrics label. */
  readonly name: string;
  /** The `type:` of the connections it serves (config/schema.ts declares their shape). */
  readonly connectionType: ConnectionConfig["type"];
  /** Where it listens (`listen.<key>`). */
  listenAddress(config: LatchConfig): string | undefined;
  /**
   * True when its listener must open although no connection of its type is configured (the HTTP listener
   * carries other protocols' mounts, the MCP endpoint).
   */
  listensWithoutConnections?(context: ProtocolContext): boolean;
  /** Checks its connections at start-up (bad pins, masking profiles): a bad config stops the gateway here. */
  start(context: ProtocolContext): Promise<ProtocolListener>;
  /** The one place a LatchError becomes this protocol's own error, as the client receives it. */
  renderError(error: LatchError): Buffer;
  /**
   * Readiness (/readyz): resolves once the connection's upstream answers as a server of this protocol, cheaply
   * and without a credential; rejects with an Error whose `code` says why (ECONNREFUSED, timeout).
   */
  probe?(connection: ConnectionConfig, timeoutMs: number): Promise<void>;
  /**
   * A handler this protocol serves on the HTTP listener (`listen.http`), made before any listener starts;
   * undefined when it has nothing to serve there under this config.
   */
  httpMount?(context: ProtocolContext): Promise<HttpMount | undefined>;
  /**
   * The way in this protocol lends the MCP endpoint's tools to its connections (HTTP: http_request, SSH:
   * ssh_exec), made before any mount; nothing when it has no connection configured.
   */
  agentTools?(context: ProtocolContext): AgentToolRunners;
}
