import type { LatchConfig } from "../config/schema.js";

export const DEFAULT_HTTP_LISTEN = "127.0.0.1:8443";

/**
 * Where the HTTP listener (HTTP connections and the MCP endpoint) listens, or undefined when it does not open:
 * `listen.http` when set, else the default when an http or mcp connection is configured. A gateway of only
 * PostgreSQL and SSH connections opens no HTTP port unless `listen.http` asks for one (which also turns on
 * the MCP endpoint with its built-in tools over those connections).
 */
export function httpListenAddress(config: LatchConfig): string | undefined {
  if (config.listen.http !== undefined) return config.listen.http;
  const needed = Object.values(config.connections).some((c) => c.type === "http" || c.type === "mcp");
  return needed ? DEFAULT_HTTP_LISTEN : undefined;
}
