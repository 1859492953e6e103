import { setMaxListeners } from "node:events";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import type { HttpConnectionConfig } from "../../config/schema.js";
import { asLatchError, LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import { admitConnection } from "../admit-connection.js";
import { ConnectionLimits } from "../connection-limits.js";
import { DEFAULT_HTTP_LISTEN, httpListenAddress } from "../http-listen-address.js";
import { listenOn } from "../listen-address.js";
import { problemResponseOf, rawProblemResponse } from "./errors.js";
import type { HttpExchangeResponse } from "./exchange-types.js";
import { createHttp2Front } from "./front-h2.js";
import {
  type FrontRequest,
  type FrontResponse,
  type HttpFrontDeps,
  handleRequest,
  routeRequest,
  writeAnswer,
} from "./front-request.js";
import { guardHeaders } from "./header-guard.js";
import { parseRequestTarget } from "./request-target.js";
import type { HttpSessions } from "./session.js";
import { relayWebSocket } from "./websocket.js";

export interface HttpListenerDeps extends HttpFrontDeps {
  readonly tls: tls.SecureContext;
}

export interface HttpListener {
  readonly address: { host: string; port: number };
  stopAccepting(): void;
  close(): Promise<void>;
}

/**
 * The HTTP front: TLS with the gateway's certificate (like the PostgreSQL listener); ALPN picks HTTP/2
 * (front-h2.ts) or HTTP/1.1 (Node's parser in strict mode, a client without ALPN too); then every request,
 * whichever version, takes the same path (front-request.ts). Parser errors are answered in problem+json too.
 */
export async function startHttpListener(deps: HttpListenerDeps): Promise<HttpListener> {
  const { config, log } = deps;
  const server = http.createServer(
    {
      insecureHTTPParser: false,
      requestTimeout: parseDuration(config.limits.startup_timeout) * 4,
      headersTimeout: parseDuration(config.limits.startup_timeout),
      keepAliveTimeout: 5_000,
      maxHeaderSize: 32 * 1024,
    },
    (request, response) =>
      handleRequest(
        deps,
        new Http1Request(request, response),
        new Http1Response(response, request.socket, log),
      ),
  );
  const h2 = createHttp2Front(deps);
  // A client that half-closes (shutdown of its write side) after its request still gets the answer: Node's
  // server otherwise aborts the request on the client's FIN. The socket closes once the answer is out.
  (server as { httpAllowHalfOpen?: boolean }).httpAllowHalfOpen = true;
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    handleUpgrade(deps, request, socket, head).catch((error: unknown) => {
      log.error({ err: error }, "websocket upgrade failed");
      socket.destroy();
    });
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket: net.Socket) => {
    if (!socket.writable) return socket.destroy();
    const refusal = new LatchError("http_request_refused", {
      reason: `the request is not valid HTTP/1.1 (${error.code ?? "parse error"})`,
    });
    deps.pipeline.recordProtocolError(null, refusal);
    socket.end(rawProblemResponse(refusal));
  });
  const limits = new ConnectionLimits(
    config.limits.max_connections,
    config.limits.max_handshakes_per_address,
  );
  const tcp = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    const ticket = admitConnection(socket, {
      limits,
      protocol: "http",
      metrics: deps.metrics,
      log,
      answer: () => Buffer.alloc(0), // before TLS nothing readable can be said
    });
    if (ticket === undefined) return;
    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: deps.tls,
      ALPNProtocols: ["h2", "http/1.1"],
    });
    const deadline = setTimeout(() => secure.destroy(), parseDuration(config.limits.startup_timeout));
    deadline.unref();
    secure.once("secure", () => {
      clearTimeout(deadline);
      ticket.handshakeDone();
      // The protocol is known once the handshake is done: "h2" only when the client offered it.
      if (secure.alpnProtocol === "h2") h2.accept(secure);
      else server.emit("connection", secure);
    });
    secure.on("error", () => secure.destroy());
    secure.once("close", () => clearTimeout(deadline));
  });
  const address = await listenOn(tcp, httpListenAddress(config) ?? DEFAULT_HTTP_LISTEN, "http");
  const closed = new Promise<void>((resolve) => tcp.once("close", () => resolve()));
  log.info({ http: `${address.host}:${address.port}` }, "http listener ready");
  return {
    address,
    stopAccepting: () => void tcp.close(),
    close: async () => {
      tcp.close();
      server.closeAllConnections();
      h2.closeAll();
      await closed;
    },
  };
}

/** Upgrade requests: the same routing, guard and session as any request, then relayWebSocket. */
async function handleUpgrade(
  deps: HttpListenerDeps,
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): Promise<void> {
  const refuseRaw = (error: LatchError) => {
    deps.pipeline.recordProtocolError(null, error);
    socket.end(rawProblemResponse(error));
  };
  const parsed = parseRequestTarget(request.url ?? "", { pathCase: "sensitive" });
  if (!parsed.ok) return refuseRaw(new LatchError("http_request_refused", { reason: parsed.reason }));
  const guarded = guardHeaders(request.rawHeaders);
  if (!guarded.ok) return refuseRaw(new LatchError("http_request_refused", { reason: guarded.reason }));
  if (!guarded.headers.websocket)
    return refuseRaw(
      new LatchError("http_request_refused", { reason: "only WebSocket upgrades are relayed" }),
    );
  const routed = routeRequest(deps, guarded.headers.byName.get("host"), parsed.target) ?? {
    name: "",
    skip: 1,
  };
  const tlsSocket = request.socket;
  const clientAddress = `${tlsSocket.remoteAddress ?? "?"}:${tlsSocket.remotePort ?? 0}`;
  let session: Awaited<ReturnType<HttpSessions["sessionFor"]>>;
  try {
    session = await deps.sessions.sessionFor(tlsSocket, {
      connection: routed.name,
      token: guarded.headers.token,
      clientAddress,
    });
  } catch (error) {
    return void socket.end(rawProblemResponse(asLatchError(error, clientAddress)));
  }
  const runtime = deps.connections.get(routed.name);
  if (runtime === undefined)
    return refuseRaw(new LatchError("connection_unknown", { name: routed.name.slice(0, 63) }));
  await relayWebSocket(
    deps,
    runtime,
    session,
    request,
    socket,
    head,
    { parsed: parsed.target, skip: routed.skip },
    guarded.headers,
  );
}

/** An HTTP/1.1 request as the shared request path reads it; the session belongs to its TLS socket. */
class Http1Request implements FrontRequest {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: readonly string[];
  readonly bodyFollows = false; // HTTP/1.1 says it with Content-Length or Transfer-Encoding
  readonly body: IncomingMessage;
  readonly connection: net.Socket;

  constructor(
    request: IncomingMessage,
    private readonly response: ServerResponse,
  ) {
    this.method = request.method ?? "";
    this.url = request.url ?? "";
    this.rawHeaders = request.rawHeaders;
    this.body = request;
    this.connection = request.socket;
  }

  /** Read only when a session opens (once per connection), so not built for every request. */
  get clientAddress(): string {
    return `${this.connection.remoteAddress ?? "?"}:${this.connection.remotePort ?? 0}`;
  }

  serveMount(mount: { handle(q: IncomingMessage, r: ServerResponse): void | Promise<void> }, url: string) {
    this.body.url = url;
    return mount.handle(this.body, this.response);
  }
}

/** One AbortController per client connection, aborted when it closes (FrontResponse.signal). */
const socketSignals = new WeakMap<net.Socket, AbortSignal>();

function socketSignal(socket: net.Socket): AbortSignal {
  let signal = socketSignals.get(socket);
  if (signal === undefined) {
    const controller = new AbortController();
    signal = controller.signal;
    // Each request in flight on the connection listens, and a pipelining client may have many.
    setMaxListeners(0, signal);
    socketSignals.set(socket, signal);
    if (socket.destroyed) controller.abort();
    else socket.once("close", () => controller.abort());
  }
  return signal;
}

class Http1Response implements FrontResponse {
  constructor(
    private readonly response: ServerResponse,
    /** The request's socket: a pipelined response has none of its own until the ones before it are out. */
    private readonly socket: net.Socket,
    private readonly log: HttpListenerDeps["log"],
  ) {}

  get headersSent(): boolean {
    return this.response.headersSent;
  }

  get gone(): boolean {
    return this.response.headersSent || this.response.destroyed;
  }

  get signal(): AbortSignal {
    return socketSignal(this.socket);
  }

  get signalSpansConnection(): boolean {
    return true;
  }

  answerProblem(error: LatchError): void {
    if (!this.response.headersSent) void this.send(problemResponseOf(error, true));
  }

  fail(error: unknown): void {
    this.log.error({ err: error }, "http request failed");
    if (!this.response.headersSent) void this.send(problemResponseOf(asLatchError(error, "http"), true));
    else this.response.destroy();
  }

  send(answer: HttpExchangeResponse): Promise<void> | undefined {
    const response = this.response;
    if (response.headersSent || response.destroyed) return undefined;
    // A refusal before the body was read: the connection closes after it (the body is not parsed as requests).
    return writeAnswer(response, answer, answer.close === true);
  }
}

export type { HttpConnectionConfig, HttpSessions };
