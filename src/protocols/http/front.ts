import http, { type IncomingMessage, type ServerResponse } from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { pipeline as pipeStreams } from "node:stream/promises";
import tls from "node:tls";
import type { Logger } from "pino";
import type { HttpConnectionConfig, LatchConfig } from "../../config/schema.js";
import { asLatchError, LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Admitter } from "../../pipeline/operation-pipeline.js";
import { admitConnection } from "../admit-connection.js";
import { ConnectionLimits } from "../connection-limits.js";
import { DEFAULT_HTTP_LISTEN, httpListenAddress } from "../http-listen-address.js";
import type { HttpMount } from "../http-mount.js";
import { listenOn } from "../listen-address.js";
import { rawProblemResponse } from "./errors.js";
import {
  type HttpConnectionRuntime,
  type HttpExchangeResponse,
  problemResponseOf,
  runHttpExchange,
} from "./exchange.js";
import { guardHeaders } from "./header-guard.js";
import { parseRequestTarget, type RequestTarget, splitConnection } from "./request-target.js";
import type { HttpSessions } from "./session.js";
import { relayWebSocket } from "./websocket.js";

export interface HttpFrontDeps {
  readonly config: LatchConfig;
  readonly sessions: HttpSessions;
  readonly pipeline: Admitter;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly tls: tls.SecureContext;
  readonly mounts: readonly HttpMount[];
  /** Every configured http connection, by name. */
  readonly connections: ReadonlyMap<string, HttpConnectionRuntime>;
}

export interface HttpListener {
  readonly address: { host: string; port: number };
  stopAccepting(): void;
  close(): Promise<void>;
}

/**
 * The HTTP front: TLS with the gateway's certificate (like the PostgreSQL listener), HTTP/1.1 by Node's
 * parser in strict mode, then per request: mounts (/mcp) -> connection routing -> headers guard -> the
 * session (token -> SessionGate) -> runHttpExchange. Parser errors are answered in problem+json too.
 */
export async function startHttpListener(deps: HttpFrontDeps): Promise<HttpListener> {
  const { config, log } = deps;
  const server = http.createServer(
    {
      insecureHTTPParser: false,
      requestTimeout: parseDuration(config.limits.startup_timeout) * 4,
      headersTimeout: parseDuration(config.limits.startup_timeout),
      keepAliveTimeout: 5_000,
      maxHeaderSize: 32 * 1024,
    },
    (request, response) => {
      handleRequest(deps, request, response).catch((error: unknown) => {
        log.error({ err: error }, "http request failed");
        if (!response.headersSent) send(response, problemResponseOf(asLatchError(error, "http"), true));
        else response.destroy();
      });
    },
  );
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
      ALPNProtocols: ["http/1.1"],
    });
    const deadline = setTimeout(() => secure.destroy(), parseDuration(config.limits.startup_timeout));
    deadline.unref();
    secure.once("secure", () => {
      clearTimeout(deadline);
      ticket.handshakeDone();
    });
    secure.on("error", () => secure.destroy());
    secure.once("close", () => clearTimeout(deadline));
    server.emit("connection", secure);
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
      await closed;
    },
  };
}

async function handleRequest(
  deps: HttpFrontDeps,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const raw = request.url ?? "";
  const parsed = parseRequestTarget(raw, { pathCase: "sensitive" });
  if (!parsed.ok)
    return refuse(deps, response, new LatchError("http_request_refused", { reason: parsed.reason }));
  const target = parsed.target;
  for (const mount of deps.mounts) {
    if (mount.paths.some((p) => target.path === p || target.path.startsWith(`${p}/`))) {
      // The mount reads the path Latch normalised, not the bytes that were sent.
      request.url = `${target.path}${target.queryString === "" ? "" : `?${target.queryString}`}`;
      await mount.handle(request, response);
      return;
    }
  }
  const routed = route(deps, request, target);
  if (routed === undefined) {
    // Tell nothing about connections before the caller is identified: the gate refuses the token or the name.
    return openAndRun(deps, request, response, target.segments[0] ?? "", "/", target.queryString);
  }
  return openAndRun(deps, request, response, routed.name, routed.rest, target.queryString);
}

function route(
  deps: HttpFrontDeps,
  request: IncomingMessage,
  target: RequestTarget,
): { name: string; rest: string } | undefined {
  const host = (request.headers.host ?? "").replace(/:\d+$/, "").toLowerCase();
  const label = host.split(".")[0] ?? "";
  const byHost = deps.connections.get(label);
  if (byHost !== undefined && byHost.config.routing === "host" && host.includes("."))
    return { name: label, rest: target.path };
  return splitConnection(target);
}

async function openAndRun(
  deps: HttpFrontDeps,
  request: IncomingMessage,
  response: ServerResponse,
  name: string,
  rest: string,
  query: string,
): Promise<void> {
  const guarded = guardHeaders(request.rawHeaders);
  if (!guarded.ok)
    return refuse(deps, response, new LatchError("http_request_refused", { reason: guarded.reason }));
  const token = guarded.headers.token;
  if (token !== undefined && (request.url ?? "").includes(token))
    return refuse(
      deps,
      response,
      new LatchError("http_request_refused", {
        reason: "your token also appears in the URL: it would reach the upstream",
      }),
    );
  const socket = request.socket;
  const clientAddress = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? 0}`;
  let session: Awaited<ReturnType<HttpSessions["sessionFor"]>>;
  try {
    session = await deps.sessions.sessionFor(socket, {
      connection: name,
      token,
      clientAddress,
    });
  } catch (error) {
    const latchError = asLatchError(error, clientAddress);
    if (latchError.code === "internal") deps.log.error({ err: error }, "http login failed");
    return send(response, problemResponseOf(latchError));
  }
  const runtime = deps.connections.get(name);
  if (runtime === undefined)
    return send(
      response,
      problemResponseOf(new LatchError("connection_unknown", { name: name.slice(0, 63) })),
    );
  const aborted = new AbortController();
  // "close" also follows every finished response; aborting then would build a DOMException per request.
  response.once("close", () => {
    if (!response.writableFinished) aborted.abort();
  });
  const running = deps.sessions.begin(socket, session, (error) => {
    if (!response.headersSent) send(response, problemResponseOf(error, true));
  });
  try {
    const answer = await runHttpExchange(
      deps,
      runtime,
      session,
      {
        method: request.method ?? "",
        target: `${rest}${query === "" ? "" : `?${query}`}`,
        headers: guarded.headers,
        body: request,
      },
      { signal: aborted.signal },
    );
    if (session.isEnded) {
      if (!Buffer.isBuffer(answer.body)) answer.body.destroy();
      return;
    }
    running.started();
    await send(response, answer);
  } finally {
    running.done();
  }
}

/** Upgrade requests: the same routing, guard and session as any request, then relayWebSocket. */
async function handleUpgrade(
  deps: HttpFrontDeps,
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
  const routed = route(deps, request, parsed.target) ?? { name: "", rest: "/" };
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
  const query = parsed.target.queryString;
  await relayWebSocket(
    deps,
    runtime,
    session,
    request,
    socket,
    head,
    `${routed.rest}${query === "" ? "" : `?${query}`}`,
    guarded.headers,
  );
}

function refuse(deps: HttpFrontDeps, response: ServerResponse, error: LatchError): Promise<void> {
  deps.pipeline.recordProtocolError(null, error);
  return send(response, problemResponseOf(error, true));
}

async function send(response: ServerResponse, answer: HttpExchangeResponse): Promise<void> {
  if (response.headersSent || response.destroyed) return;
  const flat: string[] = [];
  for (const [name, value] of answer.headers) flat.push(name, value);
  if (answer.close === true) flat.push("connection", "close");
  if (Buffer.isBuffer(answer.body)) {
    flat.push("content-length", String(answer.body.length));
    response.writeHead(answer.status, flat);
    response.end(answer.body);
    return;
  }
  response.writeHead(answer.status, flat);
  await pipeStreams(answer.body, response).catch(() => response.destroy());
}

export type { HttpConnectionConfig };
