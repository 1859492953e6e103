import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { LatchError } from "../../../errors.js";
import type { ToolContext } from "../tool-context.js";
import { couldDo } from "../tool-context.js";
import type { McpProxies, ProxyConnection } from "./proxy-connections.js";
import { exposedToolName, NAMESPACE_SEPARATOR, pinnedForm } from "./tool-definition.js";
import { connectMcpUpstream, type McpUpstream } from "./upstream-client.js";

/** What a proxied tool is: where it lives upstream, and its definition as pinned. */
export interface ProxiedTool {
  readonly connection: ProxyConnection;
  readonly tool: Tool;
  readonly exposedName: string;
}

export type PinCheck =
  | { readonly ok: true; readonly tool: ProxiedTool }
  | { readonly ok: false; readonly error: LatchError };

/** Per session and connection: what was used of the budget. */
export interface BudgetUse {
  calls: number;
  resultBytes: number;
}

/**
 * The MCP proxy connections as one MCP session sees them: its own upstream clients (a stdio process or an HTTP
 * session each, opened on first use, closed with the session), the tools it may see, its budgets.
 */
export class ProxySession {
  private readonly upstreams = new Map<string, Promise<McpUpstream>>();
  private readonly budgets = new Map<string, BudgetUse>();
  /**
   * "connection/tool" -> the hash this session already found pinned. A pin only ever moves by an accept, which
   * the store would answer the same way for this hash, so the same definition seen again needs no store trip.
   */
  private readonly pinnedSeen = new Map<string, string>();

  constructor(
    readonly proxies: McpProxies,
    readonly context: ToolContext,
  ) {}

  /** Every upstream tool that is pinned as it is now and that policy could allow this caller. */
  async listTools(): Promise<Tool[]> {
    // Upstreams are asked side by side; each one's tools are checked in its own order.
    const perConnection = await Promise.all(
      [...this.proxies.connections.values()].map((connection) => this.listOf(connection)),
    );
    return perConnection.flat();
  }

  private async listOf(connection: ProxyConnection): Promise<Tool[]> {
    let tools: Tool[];
    try {
      tools = await (await this.upstream(connection.name)).listTools(this.context.session.signal);
    } catch (error) {
      this.proxies.log.warn(
        { err: error, connection: connection.name },
        "MCP proxy: the upstream did not list its tools; they are not offered",
      );
      return [];
    }
    const listed: Tool[] = [];
    for (const tool of tools) {
      const checked = await this.checkPin(connection, tool);
      if (!checked.ok) continue;
      if (this.could(connection.name, tool.name) === "deny") continue;
      listed.push(this.exposed(checked.tool));
    }
    return listed;
  }

  /** True when `name` is `<connection>__<tool>` of one of the proxy connections. */
  owns(name: string): boolean {
    return this.candidates(name).length > 0;
  }

  /** (connection, upstream tool name) pairs a called name could mean. */
  candidates(name: string): { connection: ProxyConnection; tool: string }[] {
    const found: { connection: ProxyConnection; tool: string }[] = [];
    for (const connection of this.proxies.connections.values()) {
      const prefix = `${connection.name}${NAMESPACE_SEPARATOR}`;
      if (name.startsWith(prefix) && name.length > prefix.length)
        found.push({ connection, tool: name.slice(prefix.length) });
    }
    return found;
  }

  /**
   * The upstream's definition of one tool now, checked against its pin. A changed (or never accepted)
   * definition is refused with the accept command in the message; the first sight of a change goes on record.
   */
  async checkPin(connection: ProxyConnection, tool: Tool): Promise<PinCheck> {
    const exposedName = exposedToolName(connection.name, tool.name);
    if (exposedName === undefined)
      return {
        ok: false,
        error: new LatchError("tool_arguments_invalid", {
          name: tool.name.slice(0, 128),
          reason: "the upstream's tool name is not a valid MCP tool name (A-Z a-z 0-9 _ - ., at most 128)",
        }),
      };
    const { hash, definition } = pinnedForm(tool);
    const seenKey = `${connection.name}/${tool.name}`;
    if (this.pinnedSeen.get(seenKey) === hash) return { ok: true, tool: { connection, tool, exposedName } };
    const trust = connection.config.pinning === "first_use";
    let seen: Awaited<ReturnType<McpProxies["pins"]["observe"]>>;
    try {
      seen = await this.proxies.pins.observe(connection.name, tool.name, hash, definition, trust);
    } catch (error) {
      this.proxies.log.error({ err: error, connection: connection.name }, "MCP proxy: pin store failed");
      return { ok: false, error: new LatchError("store_unavailable", {}) };
    }
    const base = { connection: connection.name, tool: tool.name, hash, seenBy: this.context.session.id };
    if (seen.state === "pinned_now")
      this.context.pipeline.record({ kind: "mcp_tool_pinned", sessionId: null, data: base });
    if (seen.state === "pinned" || seen.state === "pinned_now") {
      this.pinnedSeen.set(seenKey, hash);
      return { ok: true, tool: { connection, tool, exposedName } };
    }
    // Once a change was seen, only the store says what is pinned (an accept may have moved it meanwhile).
    this.pinnedSeen.delete(seenKey);
    if (seen.fresh === true)
      this.context.pipeline.record({
        kind: "mcp_tool_changed",
        sessionId: null,
        data: { ...base, pinnedHash: seen.pin.pinnedHash },
      });
    const accept = `latch mcp pins accept ${connection.name} ${tool.name}`;
    return {
      ok: false,
      error:
        seen.state === "changed"
          ? new LatchError("mcp_tool_changed", { connection: connection.name, tool: tool.name, accept })
          : new LatchError("mcp_tool_unaccepted", { connection: connection.name, tool: tool.name, accept }),
    };
  }

  could(connection: string, tool: string): "allow" | "approval" | "deny" {
    return couldDo(
      this.context,
      this.context.session.identity,
      connection,
      [{ action: "mcp:call_tool", resource: { type: "Tool", name: tool } }],
      this.proxies.connections.get(connection)?.config.tools[tool]?.read_only === true,
    );
  }

  budget(connection: string): BudgetUse {
    let use = this.budgets.get(connection);
    if (use === undefined) {
      use = { calls: 0, resultBytes: 0 };
      this.budgets.set(connection, use);
    }
    return use;
  }

  /** The session's client of one upstream, connected on first use. */
  upstream(name: string): Promise<McpUpstream> {
    let upstream = this.upstreams.get(name);
    if (upstream === undefined) {
      const connection = this.proxies.connections.get(name);
      if (connection === undefined) return Promise.reject(new LatchError("connection_unknown", { name }));
      upstream = connectMcpUpstream({
        name,
        connection: connection.config,
        credential: connection.credential,
        onRefusedRequest: (method) =>
          this.context.pipeline.recordProtocolError(
            this.context.session.id,
            new LatchError("mcp_upstream_request_refused", { name, method: method.slice(0, 64) }),
          ),
      });
      upstream.catch(() => this.upstreams.delete(name));
      this.upstreams.set(name, upstream);
    }
    return upstream;
  }

  /** The tool as the agent sees it: namespaced, the pinned schema, and Latch's own hints. */
  private exposed(proxied: ProxiedTool): Tool {
    const { tool, connection } = proxied;
    const readOnly = connection.config.tools[tool.name]?.read_only === true;
    return {
      name: proxied.exposedName,
      ...(tool.title === undefined ? {} : { title: tool.title }),
      description:
        `${tool.description ?? ""}\n\n(via Latch connection "${connection.name}": judged by policy, may be held for approval, recorded)`.trim(),
      inputSchema: tool.inputSchema,
      // Upstream hints are the upstream's claims: never copied. Read-only only where latch.yaml says so.
      annotations: {
        readOnlyHint: readOnly,
        destructiveHint: !readOnly,
        idempotentHint: false,
        openWorldHint: true,
      },
    };
  }

  async close(): Promise<void> {
    const open = [...this.upstreams.values()];
    this.upstreams.clear();
    await Promise.all(open.map((u) => u.then((client) => client.close()).catch(() => undefined)));
  }
}
