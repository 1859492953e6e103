import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import type { LatchConfig } from "../../config/schema.js";
import { asLatchError, type LatchError } from "../../errors.js";
import type { Identity } from "../../identity/identity.js";
import type { SessionGate } from "../../session/session-gate.js";
import type { HttpMount } from "../http-mount.js";
import { mcpHttpStatus } from "./errors.js";
import { bearerChallenge, MCP_PATH, METADATA_PATH, protectedResourceMetadata } from "./resource-metadata.js";
import { McpSession, type McpSessionDeps } from "./session.js";

const MAX_INITIALIZE_BYTES = 1024 * 1024;
/** The SDK's own default bound on a request body. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
const SESSION_HEADER = "mcp-session-id";

export interface McpFrontDeps extends McpSessionDeps {
  readonly gate: SessionGate;
  readonly log: Logger;
}

/**
 * The MCP endpoint as an OAuth 2.1 resource server (RFC 9728 metadata, RFC 6750 bearer on every request):
 * an initialize request opens a gate session (session_start) whose id is the MCP session id; every later
 * request must carry a valid token of the same principal. Stateless requests (MCP 2026-07-28) would take the
 * same path without a session id, through `openEndpoint` per request: the tools do not care which.
 */
export function createMcpFront(deps: McpFrontDeps): HttpMount {
  const sessions = new Map<string, McpSession>();
  const { config } = deps;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? "/", "http://gateway").pathname;
    if (path === METADATA_PATH || path === `${METADATA_PATH}${MCP_PATH}`)
      return metadata(request, response, config);
    if (path !== MCP_PATH)
      return jsonRpcError(
        response,
        404,
        -32601,
        `nothing at ${path.slice(0, 100)}; the MCP endpoint is ${MCP_PATH}`,
      );
    const token = bearerOf(request);
    // host:port like every other front, so policy's context.client_ip reads it without guessing (IPv6 included).
    const clientAddress = `${request.socket.remoteAddress ?? "?"}:${request.socket.remotePort ?? 0}`;
    const sessionId = request.headers[SESSION_HEADER];
    const known = typeof sessionId === "string" ? sessions.get(sessionId) : undefined;
    const digest = token === undefined ? undefined : bearerDigest(token);
    const who = { protocol: "mcp", connectionName: "mcp", token, clientAddress };
    let identity: Identity;
    try {
      // The token this session verified last, sent again (every request carries it): its signature cannot
      // have changed, so only expiry and the block list are checked again. Any other token is verified whole.
      const cached = known?.bearer;
      identity =
        cached !== undefined && digest !== undefined && timingSafeEqual(cached.digest, digest)
          ? await deps.gate.reidentify(who, cached.identity)
          : await deps.gate.identify(who);
    } catch (error) {
      return refuse(response, config, asLatchError(error, "mcp"), token === undefined);
    }
    if (typeof sessionId === "string") {
      const session = known;
      if (session === undefined || session.live.isEnded)
        return jsonRpcError(response, 404, -32001, "MCP session not found (it ended): initialize a new one");
      if (
        session.live.identity.subject !== identity.subject ||
        session.live.identity.issuer !== identity.issuer
      )
        return jsonRpcError(response, 403, -32001, "this MCP session belongs to another principal");
      if (digest !== undefined) session.bearer = { digest, identity };
      session.live.touch();
      if (request.method !== "POST") return session.transport.handleRequest(request, response);
      // Read with Node streams and handed over parsed: the SDK would read it through a Web stream of the
      // converted request, a good part of a call's cost.
      const read = await readBody(request, MAX_REQUEST_BYTES);
      if (read.status !== "ok")
        return read.status === "too_large"
          ? jsonRpcError(response, 413, -32000, `the request body is larger than ${MAX_REQUEST_BYTES} bytes`)
          : jsonRpcError(response, 400, -32700, "Parse error: Invalid JSON");
      return session.transport.handleRequest(request, response, read.value);
    }
    if (request.method !== "POST")
      return jsonRpcError(response, 400, -32000, "no MCP session: POST an initialize request first");
    const read = await readBody(request, MAX_INITIALIZE_BYTES);
    const body = read.status === "ok" ? read.value : undefined;
    if (body === undefined || !isInitializeRequest(body))
      return jsonRpcError(
        response,
        400,
        -32000,
        "no MCP session: the first request must be initialize (one JSON-RPC message)",
      );
    let session: McpSession;
    try {
      session = await open(request, token, clientAddress);
    } catch (error) {
      return refuse(response, config, asLatchError(error, "mcp"), false);
    }
    if (digest !== undefined) session.bearer = { digest, identity: session.live.identity };
    await session.transport.handleRequest(request, response, body);
  }

  async function open(
    request: IncomingMessage,
    token: string | undefined,
    clientAddress: string,
  ): Promise<McpSession> {
    const live = await deps.gate.openEndpoint({
      protocol: "mcp",
      endpoint: "mcp",
      token,
      clientAddress,
      tls: (request.socket as TLSSocket).encrypted === true,
      limits: {
        ...(config.mcp.max_session === undefined ? {} : { max_session: config.mcp.max_session }),
        ...(config.mcp.idle_timeout === undefined ? {} : { idle_timeout: config.mcp.idle_timeout }),
      },
    });
    const end = (reason: string) => {
      const session = sessions.get(live.id);
      sessions.delete(live.id);
      void session?.close();
      live.end(reason);
    };
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => live.id,
      onsessioninitialized: (id) => void sessions.set(id, session),
      onsessionclosed: () => end("client closed the MCP session"),
    });
    const session = new McpSession(live, transport, deps);
    await session.server.connect(transport);
    live.attach({ terminate: (_error, reason) => end(reason) });
    return session;
  }

  return {
    paths: [MCP_PATH, METADATA_PATH],
    handle: (request, response) =>
      handle(request, response).catch((error: unknown) => {
        deps.log.error({ err: error }, "MCP request failed");
        if (!response.headersSent)
          jsonRpcError(response, 500, -32603, "internal gateway error; the call was not run");
        else response.end();
      }),
    async close() {
      await Promise.all(
        [...sessions.values()].map(async (session) => {
          await session.close();
          session.live.end("gateway shutting down");
        }),
      );
      sessions.clear();
    },
  };
}

function metadata(request: IncomingMessage, response: ServerResponse, config: LatchConfig): void {
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { allow: "GET" }).end();
    return;
  }
  const body = JSON.stringify(protectedResourceMetadata(config));
  response.writeHead(200, { "content-type": "application/json", "cache-control": "max-age=300" }).end(body);
}

function refuse(response: ServerResponse, config: LatchConfig, error: LatchError, noToken: boolean): void {
  const status = mcpHttpStatus(error);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (status === 401)
    headers["www-authenticate"] = bearerChallenge(
      config,
      noToken ? undefined : { code: "invalid_token", description: error.message },
    );
  response.writeHead(status, headers).end(
    JSON.stringify({
      jsonrpc: "2.0",
      id: null,
      error: { code: -32001, message: error.message, data: { code: error.code } },
    }),
  );
}

function jsonRpcError(response: ServerResponse, status: number, code: number, message: string): void {
  response
    .writeHead(status, { "content-type": "application/json" })
    .end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }));
}

/** What a session keeps of the token it verified: a digest to recognise it by, never the token. */
function bearerDigest(token: string): Buffer {
  return createHash("sha256").update(token.trim()).digest();
}

function bearerOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  const match = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

async function readBody(
  request: IncomingMessage,
  limit: number,
): Promise<{ status: "ok"; value: unknown } | { status: "too_large" | "invalid" }> {
  if (Number(request.headers["content-length"]) > limit) {
    request.resume();
    return { status: "too_large" };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      request.resume();
      return { status: "too_large" };
    }
    chunks.push(chunk);
  }
  try {
    return { status: "ok", value: JSON.parse(Buffer.concat(chunks).toString("utf8")) };
  } catch {
    return { status: "invalid" };
  }
}
