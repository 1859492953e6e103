import type { Admitter } from "../pipeline/pipeline-types.js";
import type { SessionHandle } from "../session/session-handle.js";

/**
 * How the MCP endpoint's built-in tools reach a connection of another protocol without importing it
 * (protocols are independent): the protocol lends a runner, the composition root hands it to the MCP mount.
 * A runner goes the protocol's own way (classification, policy, injected credential, masking, recording); the
 * caller passes the session it runs in and the pipeline to admit through, so the MCP side can say how an
 * approval waits (hold or defer) and record the call as one of its tool calls.
 */
export interface AgentToolCall {
  /** The MCP session seen as a session on the target connection: its id, identity, this connection's name and labels. */
  readonly session: SessionHandle;
  readonly pipeline: Admitter;
  /** Aborts when the tool call is cancelled; a held call is then abandoned. */
  readonly signal: AbortSignal;
}

export interface HttpToolRequest extends AgentToolCall {
  readonly method: string;
  /** Path under the connection, with an optional query: "/v1/items?limit=5". */
  readonly path: string;
  readonly body?: string;
  /** Longest response body handed back; longer ones are cut and flagged truncated. */
  readonly maxBodyBytes: number;
}

export interface HttpToolResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Already masked and scrubbed of the injected credential by the HTTP core. */
  readonly body: string;
  readonly truncated: boolean;
}

/** The HTTP protocol's request core for the `http_request` tool. */
export interface HttpRequestRunner {
  /** Names of the HTTP connections it serves. */
  connections(): readonly string[];
  /** Never rejects for a refusal: that is a problem+json response (status and body say which). */
  run(request: HttpToolRequest): Promise<HttpToolResponse>;
  close(): Promise<void>;
}

export interface SshExecRequest extends AgentToolCall {
  readonly command: string;
  /** Output kept per stream; past it the command is stopped (TERM) and the result flagged truncated. */
  readonly maxOutputBytes: number;
}

export type SshExecResult =
  /** Refused before anything reached the target; the admission (when there was one) says why. */
  | { readonly ran: false; readonly code: string; readonly message: string }
  | {
      readonly ran: true;
      readonly exitCode: number | null;
      readonly signal: string | null;
      /** Masked by the connection's content detectors. */
      readonly stdout: string;
      readonly stderr: string;
      readonly truncated: boolean;
    };

/** The SSH protocol's exec path for the `ssh_exec` tool. */
export interface SshExecRunner {
  connections(): readonly string[];
  exec(request: SshExecRequest): Promise<SshExecResult>;
  close(): Promise<void>;
}

/** What other protocols lend the MCP tools; filled by the composition root before the MCP mount is made. */
export interface AgentToolRunners {
  http?: HttpRequestRunner;
  ssh?: SshExecRunner;
}
