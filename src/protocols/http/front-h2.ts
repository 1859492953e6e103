import type { IncomingMessage, ServerResponse } from "node:http";
import http2, {
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from "node:http2";
import type { TLSSocket } from "node:tls";
import { asLatchError, LatchError } from "../../errors.js";
import type { HttpMount } from "../http-mount.js";
import { problemResponseOf } from "./errors.js";
import {
  type FrontRequest,
  type FrontResponse,
  type HttpFrontDeps,
  handleRequest,
  refuse,
  writeAnswer,
} from "./front-request.js";
import { guardHttp2Headers } from "./h2-header-guard.js";
import { MAX_HEADER_PAIRS } from "./header-guard.js";
import type { ClientConnection } from "./session.js";

/**
 * Limits of one HTTP/2 connection (docs/http.md, "HTTP/2"), against the attacks HTTP/2 adds to HTTP/1.1:
 * header lists bounded in size and pairs (HPACK bombs, CONTINUATION floods end at the same bound), streams in
 * flight bounded, a connection that sends invalid frames or has its streams refused or reset too often is
 * closed (rapid reset, CVE-2023-44487), no server push and no extended CONNECT.
 */
export const HTTP2_LIMITS = {
  maxConcurrentStreams: 100,
  maxHeaderListSize: 32 * 1024,
  maxHeaderListPairs: MAX_HEADER_PAIRS + 8, // + the pseudo-headers
  maxSessionInvalidFrames: 20,
  maxSessionRejectedStreams: 20,
  streamResetBurst: 50,
  streamResetRate: 20,
  idleTimeoutMs: 30_000,
  /** Streams a client may cancel before their answer: a burst, then so many a second (a token bucket). */
  resetBurst: 200,
  resetsPerSecond: 50,
} as const;

/**
 * Rapid reset (CVE-2023-44487): each stream a client opens and cancels at once still costs a request's work
 * (identity, policy, audit). Streams cancelled before their answer draw on a bucket; an empty bucket ends the
 * connection with GOAWAY ENHANCE_YOUR_CALM. Latch's own limit, not left to nghttp2's defaults.
 */
function watchResets(session: ServerHttp2Session): void {
  let tokens: number = HTTP2_LIMITS.resetBurst;
  let last = performance.now();
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    stream.once("close", () => {
      if (stream.rstCode === http2.constants.NGHTTP2_NO_ERROR || stream.headersSent) return;
      const now = performance.now();
      tokens = Math.min(
        HTTP2_LIMITS.resetBurst,
        tokens + ((now - last) / 1000) * HTTP2_LIMITS.resetsPerSecond,
      );
      last = now;
      tokens -= 1;
      if (tokens < 0 && !session.destroyed) {
        session.destroy(undefined, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM); // GOAWAY with this code
      }
    });
  });
}

export interface Http2Front {
  /** Takes a TLS socket whose ALPN chose "h2". */
  accept(socket: TLSSocket): void;
  /** Ends every HTTP/2 connection now (shutdown). */
  closeAll(): void;
}

/**
 * HTTP/2 on the HTTP listener: Node's HTTP/2 server (nghttp2), fed the TLS sockets ALPN gave to "h2", and per
 * request the pseudo-header guard, then the same request path as HTTP/1.1. A session is one HTTP/2 connection,
 * one token and one connection name; ending it sends GOAWAY and resets what is still open.
 */
export function createHttp2Front(deps: HttpFrontDeps): Http2Front {
  const server = http2.createServer({
    settings: {
      enablePush: false,
      enableConnectProtocol: false,
      maxConcurrentStreams: HTTP2_LIMITS.maxConcurrentStreams,
      maxHeaderListSize: HTTP2_LIMITS.maxHeaderListSize,
    },
    maxHeaderListPairs: HTTP2_LIMITS.maxHeaderListPairs,
    maxSessionInvalidFrames: HTTP2_LIMITS.maxSessionInvalidFrames,
    maxSessionRejectedStreams: HTTP2_LIMITS.maxSessionRejectedStreams,
    peerMaxConcurrentStreams: HTTP2_LIMITS.maxConcurrentStreams,
    // Node >= 20.x: more RST_STREAMs than this from a client closes its connection.
    ...({
      streamResetBurst: HTTP2_LIMITS.streamResetBurst,
      streamResetRate: HTTP2_LIMITS.streamResetRate,
    } as object),
  });
  const open = new Set<ServerHttp2Session>();
  const connections = new WeakMap<ServerHttp2Session, ClientConnection>();
  server.on("session", (session: ServerHttp2Session) => {
    open.add(session);
    session.once("close", () => open.delete(session));
    session.on("error", (error) => deps.log.debug({ err: error }, "http2 connection error"));
    session.setTimeout(HTTP2_LIMITS.idleTimeoutMs, () => session.close());
    watchResets(session);
  });
  const connectionOf = (session: ServerHttp2Session): ClientConnection => {
    let connection = connections.get(session);
    if (connection === undefined) {
      connection = {
        get destroyed() {
          return session.destroyed || session.closed;
        },
        once: (_event: "close", listener: () => void) => session.once("close", listener),
        end: () => session.close(),
        destroy: () => session.destroy(),
      };
      connections.set(session, connection);
    }
    return connection;
  };
  server.on("request", (request: Http2ServerRequest, response: Http2ServerResponse) => {
    serve(deps, request, response, http2Response(response, deps.log), connectionOf);
  });
  return {
    accept: (socket) => {
      // Node's HTTP/2 session waits for "secureConnect" while this is set, which a server-side TLSSocket made
      // by hand (rather than by tls.Server) never clears: the handshake is done when accept() is called.
      (socket as { secureConnecting?: boolean }).secureConnecting = false;
      server.emit("connection", socket);
    },
    closeAll: () => {
      for (const session of open) session.destroy();
    },
  };
}

function serve(
  deps: HttpFrontDeps,
  request: Http2ServerRequest,
  response: Http2ServerResponse,
  answer: FrontResponse,
  connectionOf: (session: ServerHttp2Session) => ClientConnection,
): void {
  const guarded = guardHttp2Headers(request.rawHeaders);
  if (!guarded.ok)
    return void refuse(deps, answer, new LatchError("http_request_refused", { reason: guarded.reason }));
  const stream = request.stream;
  const session = stream.session as ServerHttp2Session;
  const socket = session.socket;
  const front: FrontRequest = {
    method: guarded.method,
    url: guarded.path,
    rawHeaders: guarded.rawHeaders,
    bodyFollows: !stream.endAfterHeaders,
    body: request,
    connection: connectionOf(session),
    clientAddress: `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`,
    serveMount: (mount: HttpMount, url: string) => {
      request.url = url;
      // Node's HTTP/2 compatibility objects stand in for HTTP/1.1's request and response (the MCP endpoint).
      return mount.handle(request as unknown as IncomingMessage, response as unknown as ServerResponse);
    },
  };
  handleRequest(deps, front, answer);
}

function http2Response(response: Http2ServerResponse, log: HttpFrontDeps["log"]): FrontResponse {
  let finished = false;
  response.once("finish", () => {
    finished = true;
  });
  let aborted: AbortController | undefined;
  const answer: FrontResponse = {
    get headersSent() {
      return response.headersSent;
    },
    get gone() {
      return response.headersSent || response.stream.destroyed;
    },
    // Per stream: a client may cancel one stream and go on with the others.
    signalSpansConnection: false,
    get signal() {
      if (aborted === undefined) {
        const controller = new AbortController();
        aborted = controller;
        if (response.stream.destroyed && !finished) controller.abort();
        else
          response.once("close", () => {
            if (!finished) controller.abort();
          });
      }
      return aborted.signal;
    },
    answerProblem: (error) => {
      if (!response.headersSent) void answer.send(problemResponseOf(error, true));
    },
    fail: (error) => {
      log.error({ err: error }, "http2 request failed");
      if (!response.headersSent) void answer.send(problemResponseOf(asLatchError(error, "http"), true));
      else response.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    },
    send: (answer) => {
      if (response.headersSent || response.stream.destroyed) return undefined;
      // A refusal before the body was read: once the answer is out, RST_STREAM NO_ERROR tells the client to
      // stop sending it (RFC 9113 8.1); the connection and its other streams go on.
      if (answer.close === true)
        response.once("finish", () => {
          if (!response.stream.destroyed) response.stream.close(http2.constants.NGHTTP2_NO_ERROR);
        });
      return writeAnswer(response as unknown as Parameters<typeof writeAnswer>[0], answer, false);
    },
  };
  return answer;
}
