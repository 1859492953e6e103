import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ElicitResultSchema,
  ListToolsRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import type { LatchConfig } from "../../config/schema.js";
import { postgresCredentialProvider } from "../../credentials/postgres-credentials.js";
import { LatchError } from "../../errors.js";
import type { Identity } from "../../identity/identity.js";
import type { Admitter } from "../../pipeline/pipeline-types.js";
import type { LiveSession } from "../../session/live-session.js";
import type { ApprovalDesk, PolicyPreview, PolicyReach } from "../agent-services.js";
import type { AgentToolRunners } from "../agent-tools.js";
import { elicitApproval } from "./approval-elicitation.js";
import { accessStatus, describeConnection, listConnections, requestAccess } from "./gateway-tools.js";
import { callProxiedTool } from "./proxy/proxy-call.js";
import type { McpProxies } from "./proxy/proxy-connections.js";
import { ProxySession } from "./proxy/proxy-session.js";
import { runHttpRequest, runSshExec } from "./remote-tools.js";
import { runSqlQuery, type SqlToolDeps } from "./sql-query-tool.js";
import { listBuiltInTools, offersTool } from "./tool-catalog.js";
import type { CallExtras, ToolContext } from "./tool-context.js";
import { toolError } from "./tool-results.js";
import { createSqlUpstream, type SqlUpstream } from "./upstream.js";

export const SERVER_INFO = { name: "latch", version: "0.1.0" } as const;

const ARGUMENTS = {
  list_connections: z.object({}).passthrough(),
  describe_connection: z.strictObject({ connection: z.string().min(1).max(63) }),
  access_status: z.strictObject({ request_id: z.string().min(1).max(200) }),
  sql_query: z.strictObject({
    connection: z.string().min(1).max(63),
    sql: z.string(),
    params: z.array(z.string().nullable()).optional(),
  }),
  ssh_exec: z.strictObject({
    connection: z.string().min(1).max(63),
    command: z.string().min(1),
  }),
  http_request: z.strictObject({
    connection: z.string().min(1).max(63),
    method: z.string().min(1).max(16),
    path: z.string().min(1).max(8192),
    body: z.string().optional(),
  }),
  request_access: z.strictObject({
    connection: z.string().min(1).max(63),
    actions: z.array(z.string().min(1)).min(1).max(50),
    resources: z.array(z.string().min(1)).max(50).optional(),
    reason: z.string().min(1).max(2000),
    for: z
      .string()
      .regex(/^\d+(ms|s|m|h|d)$/)
      .optional(),
  }),
} as const;

export interface McpSessionDeps {
  readonly config: LatchConfig;
  readonly pipeline: Admitter;
  readonly preview: PolicyPreview | undefined;
  readonly reach: PolicyReach | undefined;
  readonly desk: ApprovalDesk | undefined;
  /** approvals.timeout: how long a call whose client opened the console URL waits for the decision. */
  readonly approvalTimeoutMs: number;
  /** What other protocols lend (ssh_exec, http_request); read at each call, filled before the first. */
  readonly tools: AgentToolRunners;
  readonly sql: SqlToolDeps;
  /** `type: mcp` connections (the policy proxy); absent when none is configured. */
  readonly proxies?: McpProxies;
}

/**
 * One MCP session: the SDK server and its Streamable HTTP transport over one gate session. Every tool call is
 * dispatched here to a tool, which turns it into an Operation for the pipeline; the session's end (client
 * DELETE, kill, block, token expiry, shutdown) closes the transport and the upstream clients it opened.
 */
export class McpSession {
  readonly server: Server;
  private readonly upstreams = new Map<string, Promise<SqlUpstream>>();
  private readonly context: ToolContext;
  private readonly proxy: ProxySession | undefined;
  /** The token this session verified last (its digest) and what it said: see front.ts. */
  bearer: { readonly digest: Buffer; readonly identity: Identity } | undefined;

  constructor(
    readonly live: LiveSession<undefined>,
    readonly transport: StreamableHTTPServerTransport,
    private readonly deps: McpSessionDeps,
  ) {
    this.server = new Server(SERVER_INFO, {
      capabilities: { tools: { listChanged: false } },
      instructions:
        "Latch gateway: every tool call is authorized by policy, may be held for approval, and is recorded.",
    });
    this.context = {
      config: deps.config,
      session: live,
      pipeline: deps.pipeline,
      preview: deps.preview,
      reach: deps.reach,
      desk: deps.desk,
      http: deps.tools.http,
      ssh: deps.tools.ssh,
      sqlUpstream: (name) => this.sqlUpstream(name),
    };
    this.proxy = deps.proxies === undefined ? undefined : new ProxySession(deps.proxies, this.context);
    this.server.setRequestHandler(ListToolsRequestSchema, async () => {
      live.touch();
      const proxied = this.proxy === undefined ? [] : await this.proxy.listTools();
      return { tools: [...listBuiltInTools(this.context), ...proxied] };
    });
    this.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const progressToken = request.params._meta?.progressToken;
      let progress = 0;
      const extras: CallExtras = {
        signal: extra.signal,
        ...(progressToken === undefined
          ? {}
          : {
              progress: (message: string) =>
                extra.sendNotification({
                  method: "notifications/progress",
                  params: { progressToken, progress: ++progress, message },
                }),
            }),
      };
      const name = request.params.name;
      const args = request.params.arguments ?? {};
      const result = await this.call(name, args, extras);
      // A client that can open a URL for its user (URL-mode elicitation) is shown the request in the
      // console, and the call goes on once it is decided; any other gets the pending result as is.
      const elicit = this.server.getClientCapabilities()?.elicitation?.url !== undefined;
      if (!elicit || extras.progress !== undefined || !isPending(result) || this.deps.desk === undefined)
        return result;
      return elicitApproval({
        desk: this.deps.desk,
        session: live,
        pending: result,
        timeoutMs: this.deps.approvalTimeoutMs,
        signal: extra.signal,
        ask: (params) => extra.sendRequest({ method: "elicitation/create", params }, ElicitResultSchema),
        completed: (id) =>
          this.server.createElicitationCompletionNotifier(id, { relatedRequestId: extra.requestId })(),
        rerun: () => this.call(name, args, extras),
      });
    });
  }

  private async call(name: string, raw: unknown, extras: CallExtras): Promise<CallToolResult> {
    if (this.live.isEnded)
      return toolError(new LatchError("session_terminated", { reason: "the session ended" }));
    const schema = Object.hasOwn(ARGUMENTS, name) ? ARGUMENTS[name as keyof typeof ARGUMENTS] : undefined;
    if (schema === undefined && this.proxy?.owns(name) === true)
      return callProxiedTool(this.proxy, name, raw, extras);
    const listed = offersTool(this.context, name);
    if (schema === undefined || !listed)
      return toolError(
        new LatchError("tool_arguments_invalid", {
          name: name.slice(0, 63),
          reason: "no such tool for you (tools/list names yours)",
        }),
      );
    const parsed = schema.safeParse(raw);
    if (!parsed.success)
      return toolError(
        new LatchError("tool_arguments_invalid", {
          name,
          reason: z.prettifyError(parsed.error).replaceAll("\n", "; "),
        }),
      );
    const args = parsed.data as never;
    switch (name) {
      case "list_connections":
        return listConnections(this.context);
      case "describe_connection":
        return describeConnection(this.context, args);
      case "access_status":
        return accessStatus(this.context, args);
      case "request_access":
        return requestAccess(this.context, args);
      case "sql_query":
        return runSqlQuery(this.context, this.deps.sql, args, extras);
      case "ssh_exec":
        return runSshExec(this.context, args, extras);
      case "http_request":
        return runHttpRequest(this.context, args, extras);
      default:
        return toolError(new LatchError("tool_arguments_invalid", { name, reason: "no such tool" }));
    }
  }

  /** The session's client on one PostgreSQL connection, with a credential issued for this session. */
  private sqlUpstream(name: string): Promise<SqlUpstream> {
    let upstream = this.upstreams.get(name);
    if (upstream === undefined) {
      upstream = (async () => {
        const connection = this.deps.config.connections[name];
        if (connection?.type !== "postgres") throw new LatchError("connection_unknown", { name });
        if (connection.ephemeral !== undefined)
          throw new LatchError("feature_refused", {
            feature: "sql_query on a connection with ephemeral users",
            why: "per-session roles are made by the PostgreSQL listener; use psql for this connection",
          });
        const credential = await postgresCredentialProvider(name, connection, undefined).issue({
          sessionId: this.live.id,
          identity: this.live.identity,
          connection: name,
        });
        return createSqlUpstream(name, connection, credential);
      })();
      upstream.catch(() => this.upstreams.delete(name));
      this.upstreams.set(name, upstream);
    }
    return upstream;
  }

  /** Closes the transport and every upstream client; the gate session is ended by whoever called this. */
  async close(): Promise<void> {
    const upstreams = [...this.upstreams.values()];
    this.upstreams.clear();
    await this.proxy?.close();
    await Promise.all(upstreams.map((u) => u.then((client) => client.close()).catch(() => undefined)));
    await this.server.close().catch(() => undefined);
  }
}

function isPending(result: CallToolResult): boolean {
  return (result.structuredContent as { status?: unknown } | undefined)?.status === "pending_approval";
}
