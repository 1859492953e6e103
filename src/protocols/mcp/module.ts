import type { LatchConfig } from "../../config/schema.js";
import { LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import { createStatementClassifier, loadSqlParser } from "../../sql/postgres/create-classifier.js";
import type { AgentToolRunners } from "../agent-tools.js";
import { httpListenAddress } from "../http-listen-address.js";
import type { HttpMount } from "../http-mount.js";
import type { ProtocolContext, ProtocolListener, ProtocolModule } from "../protocol-module.js";
import { createMcpConnectionMasking, type McpConnectionMasking } from "./connection-masking.js";
import { mcpErrorBody } from "./errors.js";
import { createMcpFront } from "./front.js";
import { checkMcpProxyConfig } from "./proxy/proxy-config-check.js";
import { createMcpProxies } from "./proxy/proxy-connections.js";
import { probeMcpUpstream } from "./proxy/upstream-probe.js";

/**
 * MCP: the endpoint at https://<listen.http>/mcp, served on the HTTP listener through an HttpMount, whose
 * built-in tools reach the other connections; and (`type: mcp` connections) a policy proxy in front of MCP
 * servers.
 */
export const mcpModule: ProtocolModule = {
  name: "mcp",
  connectionType: "mcp",
  listenAddress: (config: LatchConfig) => httpListenAddress(config),
  renderError: (error: LatchError) => Buffer.from(mcpErrorBody(error)),
  start,
  probe: probeMcpUpstream,
  httpMount: (context) => createMcpMount(context, context.agentTools),
};

/**
 * The endpoint, mounted whenever the HTTP listener opens (see http-listen-address.ts). `tools` are what the
 * SSH and HTTP protocols lend for ssh_exec and http_request (the composition root fills it first).
 */
export async function createMcpMount(
  context: ProtocolContext,
  tools: AgentToolRunners = {},
): Promise<HttpMount | undefined> {
  const { config } = context;
  if (httpListenAddress(config) === undefined) return undefined;
  await loadSqlParser();
  const classifier = createStatementClassifier({
    dangerousFunctions: config.sql.dangerous_functions,
    safeFunctions: config.sql.safe_functions,
  });
  const maskings = new Map<string, McpConnectionMasking>();
  for (const [name, connection] of Object.entries(config.connections)) {
    if (connection.type !== "postgres") continue;
    const masking = createMcpConnectionMasking(name, connection, config, context.log);
    if (masking !== undefined) maskings.set(name, masking);
  }
  const front = createMcpFront({
    config,
    gate: context.gate,
    pipeline: context.pipeline,
    log: context.log,
    preview: context.policyPreview,
    reach: context.policyReach,
    desk: context.approvalDesk,
    tools,
    approvalTimeoutMs: parseDuration(config.approvals.timeout),
    sql: { classifier, masking: (name) => maskings.get(name) },
    ...proxiesOf(context),
  });
  return {
    paths: front.paths,
    handle: front.handle,
    async close() {
      await front.close();
      await Promise.all([tools.http?.close(), tools.ssh?.close()]);
      await Promise.all([...maskings.values()].map((masking) => masking.close()));
    },
  };
}

/** `type: mcp` connections: the policy proxy, served by the endpoint's sessions (proxy/). */
function proxiesOf(context: ProtocolContext) {
  const { config } = context;
  if (!Object.values(config.connections).some((c) => c.type === "mcp")) return {};
  if (context.toolPins === undefined)
    throw new LatchError("config_invalid", {
      detail: "connections of type mcp need the gateway's pin store (rug-pull protection); none was given",
    });
  return { proxies: createMcpProxies(config, context.toolPins, context.log) };
}

/**
 * `type: mcp` connections have no listener of their own: their tools are offered at /mcp on the HTTP listener.
 * Start checks them (the endpoint is on, masking profiles compile, secrets resolve) so a bad one stops the
 * gateway here, and reports where they are served.
 */
async function start(context: ProtocolContext): Promise<ProtocolListener> {
  const address = checkMcpProxyConfig(context.config);
  const split = address.lastIndexOf(":");
  return {
    address: {
      host: address.slice(0, split).replace(/^\[|\]$/g, ""),
      port: Number(address.slice(split + 1)),
    },
    details: {
      mcpProxies: Object.entries(context.config.connections)
        .filter(([, c]) => c.type === "mcp")
        .map(([name]) => name)
        .join(","),
    },
    stopAccepting: () => undefined,
    close: async () => undefined,
  };
}
