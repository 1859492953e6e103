import type { Readable } from "node:stream";
import { pipeline as pipeStreams } from "node:stream/promises";
import type { Logger } from "pino";
import type { LatchConfig } from "../../config/schema.js";
import { asLatchError, LatchError } from "../../errors.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { HttpMount } from "../http-mount.js";
import { problemResponseOf } from "./errors.js";
import { type ExchangeReceiver, startHttpExchange } from "./exchange.js";
import type { HttpConnectionRuntime, HttpExchangeResponse } from "./exchange-types.js";
import { type GuardedHeaders, guardHeaders } from "./header-guard.js";
import type { RequestTarget, RoutedTarget } from "./request-target.js";
import type {
  ClientConnection,
  HttpLiveSession,
  HttpSessions,
  PendingAnswer,
  RunningRequest,
} from "./session.js";
import { parseFrontTarget } from "./target-memo.js";

export interface HttpFrontDeps {
  readonly config: LatchConfig;
  readonly sessions: HttpSessions;
  readonly pipeline: Admitter;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly mounts: readonly HttpMount[];
  /** Every configured http connection, by name. */
  readonly connections: ReadonlyMap<string, HttpConnectionRuntime>;
}

/** One request as the per-request pipeline sees it, whichever HTTP version carried it. */
export interface FrontRequest {
  readonly method: string;
  /** The request target as sent (origin form: path and query). */
  readonly url: string;
  /** Header name/value pairs as received (HTTP/2: pseudo-headers already checked and removed, :authority as host). */
  readonly rawHeaders: readonly string[];
  /** HTTP/2: the stream carries a body (no END_STREAM on its HEADERS), whatever content-length says. */
  readonly bodyFollows: boolean;
  readonly body: Readable;
  /** What the session is bound to: the HTTP/1.1 socket or the HTTP/2 connection. */
  readonly connection: ClientConnection;
  readonly clientAddress: string;
  /** Hands the request to a mount (the MCP endpoint) with `url` rewritten to the normalised target. */
  serveMount(mount: HttpMount, url: string): void | Promise<void>;
}

/** Where the answer goes: an HTTP/1.1 response or an HTTP/2 stream. */
export interface FrontResponse extends PendingAnswer {
  readonly headersSent: boolean;
  /** The client is gone or the answer is already out. */
  readonly gone: boolean;
  /**
   * Aborted when the client goes away before its answer (the upstream request is then cancelled). HTTP/1.1:
   * one per client connection, aborted when it closes (requests on it cannot be answered after that), so a
   * request costs no AbortController of its own; HTTP/2: one per stream.
   */
  readonly signal: AbortSignal;
  /** `signal` is the client connection's (HTTP/1.1), not this request's alone (HTTP/2: the stream's). */
  readonly signalSpansConnection: boolean;
  /**
   * Answers; `close` asks to close the client connection after it (HTTP/1.1 only, where a body was left unread).
   * Undefined when the answer is written at once (a buffered body): nothing to wait for, no promise made.
   */
  send(answer: HttpExchangeResponse): Promise<void> | undefined;
  /** A fault of Latch's own while serving the request: logged, and a 500 problem when the headers are not out. */
  fail(error: unknown): void;
}

// The front reads targets case-sensitively (parseFrontTarget); each connection's path_case applies under it.

/**
 * Per request: mounts (/mcp) -> connection routing -> headers guard -> the session -> the exchange
 * (startHttpExchange), which answers through a FrontExchange. Nothing here waits but the first request's
 * session: no async frame, await or promise per request, and a fault of Latch's own goes to `response.fail`.
 */
export function handleRequest(deps: HttpFrontDeps, request: FrontRequest, response: FrontResponse): void {
  try {
    routeAndRun(deps, request, response);
  } catch (error) {
    response.fail(error);
  }
}

function routeAndRun(deps: HttpFrontDeps, request: FrontRequest, response: FrontResponse): void {
  const parsed = parseFrontTarget(request.url);
  if (!parsed.ok)
    return void refuse(deps, response, new LatchError("http_request_refused", { reason: parsed.reason }));
  const target = parsed.target;
  for (let m = 0; m < deps.mounts.length; m++) {
    const mount = deps.mounts[m]!;
    if (mountHolds(mount, target.path)) {
      // The mount reads the path Latch normalised, not the bytes that were sent.
      const url = `${target.path}${target.queryString === "" ? "" : `?${target.queryString}`}`;
      Promise.resolve(request.serveMount(mount, url)).then(undefined, (error: unknown) =>
        response.fail(error),
      );
      return;
    }
  }
  const guarded = guardHeaders(request.rawHeaders);
  if (!guarded.ok)
    return void refuse(deps, response, new LatchError("http_request_refused", { reason: guarded.reason }));
  // An HTTP/2 body needs no length: it is a body of unknown length, like a chunked one.
  const headers: GuardedHeaders =
    request.bodyFollows && guarded.headers.contentLength === undefined
      ? { ...guarded.headers, chunked: true }
      : guarded.headers;
  const routed = routeRequest(deps, headers.byName.get("host"), target);
  // Unrouted: tell nothing about connections before the caller is identified (the gate refuses the token or name).
  const name = routed?.name ?? target.segments[0] ?? "";
  // The target was parsed once, above: the exchange takes it with the segments routing consumed.
  openAndRun(deps, request, response, headers, name, { parsed: target, skip: routed?.skip ?? 1 });
}

function mountHolds(mount: HttpMount, path: string): boolean {
  for (let i = 0; i < mount.paths.length; i++) {
    const p = mount.paths[i]!;
    if (path.startsWith(p) && (path.length === p.length || path.charCodeAt(p.length) === 0x2f)) return true;
  }
  return false;
}

/** Connection maps with at least one `routing: host` connection (others skip reading the Host header). */
const hostRouted = new WeakMap<ReadonlyMap<string, HttpConnectionRuntime>, boolean>();

/**
 * The connection a request is for: `Host: <name>.<...>` on a `routing: host` connection, else the first
 * segment (as splitConnection names it), and how many leading segments named it.
 */
export function routeRequest(
  deps: Pick<HttpFrontDeps, "connections">,
  hostHeader: string | undefined,
  target: RequestTarget,
): { name: string; skip: 0 | 1 } | undefined {
  let anyByHost = hostRouted.get(deps.connections);
  if (anyByHost === undefined) {
    anyByHost = [...deps.connections.values()].some((c) => c.config.routing === "host");
    hostRouted.set(deps.connections, anyByHost);
  }
  if (anyByHost) {
    const host = (hostHeader ?? "").replace(/:\d+$/, "").toLowerCase();
    const label = host.split(".")[0] ?? "";
    const byHost = deps.connections.get(label);
    if (byHost !== undefined && byHost.config.routing === "host" && host.includes("."))
      return { name: label, skip: 0 };
  }
  // The first segment names it (the rest under it is what targetUnder gives the exchange).
  const first = target.segments[0];
  return first === undefined ? undefined : { name: first, skip: 1 };
}

function openAndRun(
  deps: HttpFrontDeps,
  request: FrontRequest,
  response: FrontResponse,
  headers: GuardedHeaders,
  name: string,
  target: RoutedTarget,
): void {
  const token = headers.token;
  if (token !== undefined && request.url.includes(token))
    return void refuse(
      deps,
      response,
      new LatchError("http_request_refused", {
        reason: "your token also appears in the URL: it would reach the upstream",
      }),
    );
  const connection = request.connection;
  // Every request after the first on a keep-alive connection: its session is already open, nothing to wait for.
  const session = deps.sessions.current(connection, name, token);
  if (session !== undefined) return void run(deps, request, response, headers, name, target, session);
  const clientAddress = request.clientAddress;
  deps.sessions
    .sessionFor(connection, { connection: name, token, clientAddress })
    .then(
      (opened) => run(deps, request, response, headers, name, target, opened),
      (error: unknown) => {
        const latchError = asLatchError(error, clientAddress);
        if (latchError.code === "internal") deps.log.error({ err: error }, "http login failed");
        void response.send(problemResponseOf(latchError));
      },
    )
    .then(undefined, (error: unknown) => response.fail(error));
}

function run(
  deps: HttpFrontDeps,
  request: FrontRequest,
  response: FrontResponse,
  headers: GuardedHeaders,
  name: string,
  target: RoutedTarget,
  session: HttpLiveSession,
): void {
  const runtime = deps.connections.get(name);
  if (runtime === undefined)
    return void response.send(
      problemResponseOf(new LatchError("connection_unknown", { name: name.slice(0, 63) })),
    );
  const running = deps.sessions.begin(request.connection, session, response);
  startHttpExchange(
    deps,
    runtime,
    session,
    { method: request.method, target, headers, body: request.body },
    { signal: response.signal, signalSpansConnection: response.signalSpansConnection },
    new FrontExchange(response, session, running),
  );
}

/**
 * The exchange's receiver for one request: writes its answer (unless the session ended meanwhile) and marks
 * the request done once the answer is out; a fault of Latch's own goes to `response.fail`.
 */
class FrontExchange implements ExchangeReceiver {
  private over = false;

  constructor(
    private readonly response: FrontResponse,
    private readonly session: HttpLiveSession,
    private readonly running: RunningRequest,
  ) {}

  answered(answer: HttpExchangeResponse): void {
    if (this.over) return;
    this.over = true;
    const { response, running } = this;
    try {
      if (this.session.isEnded) {
        if (!Buffer.isBuffer(answer.body)) answer.body.destroy();
        running.done();
        return;
      }
      running.started();
      const sending = response.send(answer);
      if (sending === undefined) running.done();
      else
        sending.then(
          () => running.done(),
          (error: unknown) => {
            running.done();
            response.fail(error);
          },
        );
    } catch (error) {
      running.done();
      response.fail(error);
    }
  }

  failed(error: unknown): void {
    if (this.over) return;
    this.over = true;
    this.running.done();
    this.response.fail(error);
  }
}

export function refuse(
  deps: HttpFrontDeps,
  response: FrontResponse,
  error: LatchError,
): Promise<void> | undefined {
  deps.pipeline.recordProtocolError(null, error);
  return response.send(problemResponseOf(error, true));
}

/**
 * Writes an answer through a Node response (HTTP/1.1 ServerResponse or the HTTP/2 compatibility one). A
 * buffered body is written at once (undefined returned); a stream is piped, and the promise ends with it.
 * The answer's flat headers go to writeHead as they are, `close` (HTTP/1.1 only) and the length appended.
 */
export function writeAnswer(
  response: {
    writeHead(status: number, headers: string[]): unknown;
    end(body: Buffer): unknown;
    destroy(): unknown;
  } & NodeJS.WritableStream,
  answer: HttpExchangeResponse,
  close: boolean,
): Promise<void> | undefined {
  const flat = answer.headers;
  if (close) flat.push("connection", "close");
  if (Buffer.isBuffer(answer.body)) {
    flat.push("content-length", String(answer.body.length));
    response.writeHead(answer.status, flat);
    // Headers and body leave in one write: Node sends the header block with the first body chunk.
    response.end(answer.body);
    return undefined;
  }
  response.writeHead(answer.status, flat);
  return pipeStreams(answer.body, response).catch(() => {
    response.destroy();
  });
}
