import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { type CallToolResult, ErrorCode, McpError, type Tool } from "@modelcontextprotocol/sdk/types.js";
import type { McpConnectionConfig } from "../../../config/schema.js";
import { resolveSecret } from "../../../config/secrets.js";
import { LatchError } from "../../../errors.js";
import { parseDuration } from "../../../identity/parse-duration.js";
import type { UpstreamCredential } from "./upstream-credentials.js";

/** Most tools read from one upstream (pages of tools/list are followed up to this). */
const MAX_TOOLS = 500;
const MAX_PAGES = 20;

/** One MCP session's client of one upstream MCP server (a stdio process of its own, or an HTTP session). */
export interface McpUpstream {
  listTools(signal?: AbortSignal): Promise<Tool[]>;
  callTool(name: string, args: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult>;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  readonly name: string;
  readonly connection: McpConnectionConfig;
  readonly credential: UpstreamCredential;
  /**
   * The upstream asked the gateway something (sampling/createMessage, elicitation/create, roots/list, ...): it is
   * refused, and this is told so it goes on record.
   */
  readonly onRefusedRequest: (method: string) => void;
}

/**
 * Connects with the official SDK client. The client declares no capabilities: no sampling, no elicitation, no
 * roots; any request the upstream sends is answered with an error by the fallback handler. Only the
 * connection's own credential goes upstream (never the agent's token: no header of the agent's request is
 * copied anywhere).
 */
export async function connectMcpUpstream(options: UpstreamOptions): Promise<McpUpstream> {
  const { name, connection } = options;
  const client = new Client({ name: "latch-gateway", version: "0.1.0" }, { capabilities: {} });
  client.fallbackRequestHandler = async (request) => {
    options.onRefusedRequest(request.method);
    throw new McpError(
      ErrorCode.MethodNotFound,
      `Latch does not let upstream MCP servers send ${request.method.slice(0, 64)} requests (sampling, elicitation and roots are refused)`,
    );
  };
  const timeoutMs = parseDuration(connection.timeout);
  const transport = transportFor(options);
  try {
    await client.connect(transport, { timeout: timeoutMs });
  } catch (cause) {
    await client.close().catch(() => undefined);
    throw new LatchError(
      "upstream_unavailable",
      { name, reason: (cause as Error).message.slice(0, 300) },
      { cause },
    );
  }
  return {
    async listTools(signal) {
      const tools: Tool[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const result = await scoped(signal, (own) =>
          client.listTools(cursor === undefined ? {} : { cursor }, { timeout: timeoutMs, signal: own }),
        );
        tools.push(...result.tools);
        cursor = result.nextCursor;
        if (cursor === undefined || tools.length >= MAX_TOOLS) break;
      }
      return tools.slice(0, MAX_TOOLS);
    },
    async callTool(tool, args, signal) {
      // The SDK client validates structured output against an outputSchema it cached from tools/list: the
      // result is the upstream's to answer for, and Latch masks it anyway, so it is taken as it came.
      return (await scoped(signal, (own) =>
        client.callTool({ name: tool, arguments: args }, undefined, { timeout: timeoutMs, signal: own }),
      )) as CallToolResult;
    },
    close: () => client.close().catch(() => undefined),
  };
}

/**
 * The SDK adds an abort listener to a request's signal and never removes it: a session-long signal would
 * collect one per request. Each request gets its own signal, unlinked from the caller's when it settles.
 */
async function scoped<T>(
  parent: AbortSignal | undefined,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const abort = () => controller.abort(parent?.reason);
  if (parent?.aborted === true) abort();
  else parent?.addEventListener("abort", abort, { once: true });
  try {
    return await run(controller.signal);
  } finally {
    parent?.removeEventListener("abort", abort);
  }
}

function transportFor(options: UpstreamOptions): Transport {
  const { name, connection, credential } = options;
  if (connection.command !== undefined) {
    const env: Record<string, string> = { ...getDefaultEnvironment() };
    for (const [key, value] of Object.entries(connection.env))
      env[key] = typeof value === "string" ? value : resolveSecret(value, `connection ${name} env ${key}`);
    const [command, ...args] = connection.command;
    return new StdioClientTransport({
      command: command!,
      args,
      env,
      stderr: "ignore",
      ...(connection.cwd === undefined ? {} : { cwd: connection.cwd }),
    });
  }
  const url = new URL(connection.upstream!);
  // Every request is built here with the connection's credential and nothing of the agent's.
  const credentialFetch = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const headers = new Headers(init?.headers);
    headers.delete("authorization");
    for (const [header, value] of Object.entries(await credential.headers())) headers.set(header, value);
    const response = await fetch(input, { ...init, headers, redirect: "error" });
    if (response.status === 401) credential.rejected();
    return response;
  };
  return new StreamableHTTPClientTransport(url, { fetch: credentialFetch });
}
