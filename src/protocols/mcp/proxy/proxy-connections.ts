import type { Logger } from "pino";
import type { LatchConfig, McpConnectionConfig } from "../../../config/schema.js";
import { compileMaskingProfiles } from "../../../masking/masking-profile.js";
import type { ToolPinBook } from "../../agent-services.js";
import { ToolResultMasker } from "./result-masking.js";
import { createUpstreamCredential, type UpstreamCredential } from "./upstream-credentials.js";

/** One `type: mcp` connection as every session of the gateway shares it. */
export interface ProxyConnection {
  readonly name: string;
  readonly config: McpConnectionConfig;
  readonly masker: ToolResultMasker;
  readonly credential: UpstreamCredential;
}

/** The gateway's MCP proxy connections, compiled once at start (a bad masking profile stops the gateway). */
export interface McpProxies {
  readonly connections: ReadonlyMap<string, ProxyConnection>;
  readonly pins: ToolPinBook;
  readonly log: Logger;
}

export function createMcpProxies(config: LatchConfig, pins: ToolPinBook, log: Logger): McpProxies {
  const connections = new Map<string, ProxyConnection>();
  for (const [name, connection] of Object.entries(config.connections)) {
    if (connection.type !== "mcp") continue;
    connections.set(name, {
      name,
      config: connection,
      masker: new ToolResultMasker(compileMaskingProfiles(connection.masking, config.masking)),
      credential: createUpstreamCredential(name, connection),
    });
  }
  return { connections, pins, log };
}
