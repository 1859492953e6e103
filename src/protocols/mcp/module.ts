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

/** `type: mcp` connections (a policy proxy for MCP servers) are refused until the proxy exists. */
async function start(_context: ProtocolContext): Promise<ProtocolListener> {
  throw new LatchError("config_invalid", {
    detail:
      "connections of type mcp (a policy proxy for MCP servers) are not supported by this build yet; remove them, and use the built-in tools at /mcp (docs/mcp.md)",
  });
}
