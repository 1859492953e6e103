import type { Readable } from "node:stream";
import type { Logger } from "pino";
import type { HttpConnectionConfig } from "../../config/schema.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { SessionHandle } from "../../session/session-handle.js";
import type { GuardedHeaders } from "./header-guard.js";
import type { RoutedTarget } from "./request-target.js";
import type { ConnectionMasking } from "./response-masker.js";
import type { HttpCredential, HttpUpstream } from "./upstream.js";

/** What the exchange needs besides the request: shared pieces, and one connection's upstream and masking. */
export interface HttpExchangeDeps {
  readonly pipeline: Admitter;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export interface HttpConnectionRuntime {
  readonly name: string;
  readonly config: HttpConnectionConfig;
  readonly upstream: HttpUpstream;
  readonly masking: ConnectionMasking;
}

/** A session able to send HTTP requests on a connection: the live session and the credential issued for it. */
export interface HttpSessionScope extends SessionHandle {
  readonly credential: HttpCredential;
}

export interface HttpExchangeRequest {
  readonly method: string;
  /**
   * The path under the connection and the query, as sent ("/v1/invoices?limit=10"), or the target the front
   * already parsed and routed (it is not read again: only the connection's case rule is applied).
   */
  readonly target: string | RoutedTarget;
  /** The caller's headers after guardHeaders (Authorization already consumed). */
  readonly headers: GuardedHeaders;
  /** The request body; undefined when there is none. */
  readonly body: Readable | undefined;
}

export interface HttpExchangeResponse {
  readonly status: number;
  /**
   * Flat, name then value (what writeHead takes as it is), lower-case names; the answer owns the array, and
   * writing it appends its framing headers (content-length, connection) in place.
   */
  readonly headers: string[];
  /** Buffered (masked, problem) or streamed; a streamed body ends the operation's record when it ends. */
  readonly body: Buffer | Readable;
  /** The request was refused before it reached the upstream: close the client connection after it. */
  readonly close?: boolean;
}

export interface HttpExchangeOptions {
  /** Aborts when the caller goes away (a held request is then abandoned). */
  readonly signal?: AbortSignal;
  /**
   * The signal outlives the request: HTTP/1.1's is one per client connection (front.ts). The exchange then
   * combines it with the session's once per session, not per request.
   */
  readonly signalSpansConnection?: boolean;
}
