import type { Readable } from "node:stream";
import { pipeline as pipeStreams } from "node:stream/promises";
import type { Logger } from "pino";
import type { LatchConfig } from "../../config/schema.js";
import { asLatchError, LatchError } from "../../errors.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { HttpMount } from "../http-mount.js";
import { problemResponseOf } from "./errors.js";
import { runHttpExchange } from "./exchange.js";
import type { HttpConnectionRuntime, HttpExchangeResponse } from "./exchange-types.js";
import { type GuardedHeaders, guardHeaders } from "./header-guard.js";
import {
  parseRequestTarget,
  type RequestTarget,
  type RoutedTarget,
  splitConnection,
} from "./request-target.js";
import type { ClientConnection, HttpSessions } from "./session.js";

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
export interface FrontResponse {
  readonly headersSent: boolean;
  /** The client is gone or the answer is already out. */
  readonly gone: boolean;
  /** Runs once when the exchange with the client is over; `finished` false when it ended before the answer. */
  onClose(run: (finished: boolean) => void): void;
  /** Answers; `close` asks to close the client connection after it (HTTP/1.1 only, where a body was left unread). */
  send(answer: HttpExchangeResponse): Promise<void>;
}

/** Per request: mounts (/mcp) -> connection routing -> headers guard -> the session -> runHttpExchange. */
export async function handleRequest(
  deps: HttpFrontDeps,
  request: FrontRequest,
  response: FrontResponse,
): Promise<void> {
  const parsed = parseRequestTarget(request.url, { pathCase: "sensitive" });
  if (!parsed.ok)
    return refuse(deps, response, new LatchError("http_request_refused", { reason: parsed.reason }));
  const target = parsed.target;
  for (const mount of deps.mounts) {
    if (mount.paths.some((p) => target.path === p || target.path.startsWith(`${p}/`))) {
      // The mount reads the path Latch normalised, not the bytes that were sent.
      await request.serveMount(
        mount,
        `${target.path}${target.queryString === "" ? "" : `?${target.queryString}`}`,
      );
      return;
    }
  }
  const guarded = guardHeaders(request.rawHeaders);
  if (!guarded.ok)
    return refuse(deps, response, new LatchError("http_request_refused", { reason: guarded.reason }));
  // An HTTP/2 body needs no length: it is a body of unknown length, like a chunked one.
  const headers: GuardedHeaders =
    request.bodyFollows && guarded.headers.contentLength === undefined
      ? { ...guarded.headers, chunked: true }
      : guarded.headers;
  const routed = routeRequest(deps, headers.byName.get("host"), target);
  // Unrouted: tell nothing about connections before the caller is identified (the gate refuses the token or name).
  const name = routed?.name ?? target.segments[0] ?? "";
  // The target was parsed once, above: the exchange takes it with the segments routing consumed.
  return openAndRun(deps, request, response, headers, name, { parsed: target, skip: routed?.skip ?? 1 });
}

/** The connection a request is for: `Host: <name>.<...>` on a `routing: host` connection, else the first segment. */
export function routeRequest(
  deps: Pick<HttpFrontDeps, "connections">,
  hostHeader: string | undefined,
  target: RequestTarget,
): { name: string; rest: string; skip: 0 | 1 } | undefined {
  const host = (hostHeader ?? "").replace(/:\d+$/, "").toLowerCase();
  const label = host.split(".")[0] ?? "";
  const byHost = deps.connections.get(label);
  if (byHost !== undefined && byHost.config.routing === "host" && host.includes("."))
    return { name: label, rest: target.path, skip: 0 };
  const split = splitConnection(target);
  return split === undefined ? undefined : { ...split, skip: 1 };
}

async function openAndRun(
  deps: HttpFrontDeps,
  request: FrontRequest,
  response: FrontResponse,
  headers: GuardedHeaders,
  name: string,
  target: RoutedTarget,
): Promise<void> {
  const token = headers.token;
  if (token !== undefined && request.url.includes(token))
    return refuse(
      deps,
      response,
      new LatchError("http_request_refused", {
        reason: "your token also appears in the URL: it would reach the upstream",
      }),
    );
  const { connection, clientAddress } = request;
  let session: Awaited<ReturnType<HttpSessions["sessionFor"]>>;
  try {
    session = await deps.sessions.sessionFor(connection, { connection: name, token, clientAddress });
  } catch (error) {
    const latchError = asLatchError(error, clientAddress);
    if (latchError.code === "internal") deps.log.error({ err: error }, "http login failed");
    return response.send(problemResponseOf(latchError));
  }
  const runtime = deps.connections.get(name);
  if (runtime === undefined)
    return response.send(
      problemResponseOf(new LatchError("connection_unknown", { name: name.slice(0, 63) })),
    );
  const aborted = new AbortController();
  // Only an exchange that ended before its answer aborts: aborting after every answer would build a
  // DOMException per request (a measurable share of the request path).
  response.onClose((finished) => {
    if (!finished) aborted.abort();
  });
  const running = deps.sessions.begin(connection, session, (error) => {
    if (!response.headersSent) void response.send(problemResponseOf(error, true));
  });
  try {
    const answer = await runHttpExchange(
      deps,
      runtime,
      session,
      {
        method: request.method,
        target,
        headers,
        body: request.body,
      },
      { signal: aborted.signal },
    );
    if (session.isEnded) {
      if (!Buffer.isBuffer(answer.body)) answer.body.destroy();
      return;
    }
    running.started();
    await response.send(answer);
  } finally {
    running.done();
  }
}

export function refuse(deps: HttpFrontDeps, response: FrontResponse, error: LatchError): Promise<void> {
  deps.pipeline.recordProtocolError(null, error);
  return response.send(problemResponseOf(error, true));
}

/** Writes an answer through a Node response (HTTP/1.1 ServerResponse or the HTTP/2 compatibility one). */
export async function writeAnswer(
  response: {
    writeHead(status: number, headers: string[]): unknown;
    end(body: Buffer): unknown;
    destroy(): unknown;
  } & NodeJS.WritableStream,
  answer: HttpExchangeResponse,
  extraHeaders: readonly string[],
): Promise<void> {
  const flat: string[] = [...extraHeaders];
  for (const [name, value] of answer.headers) flat.push(name, value);
  if (Buffer.isBuffer(answer.body)) {
    flat.push("content-length", String(answer.body.length));
    response.writeHead(answer.status, flat);
    response.end(answer.body);
    return;
  }
  response.writeHead(answer.status, flat);
  await pipeStreams(answer.body, response).catch(() => response.destroy());
}
