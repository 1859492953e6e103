import { constants } from "node:fs";
import { access } from "node:fs/promises";
import path from "node:path";
import type { ConnectionConfig } from "../../../config/schema.js";
import { probeHttpUpstream } from "../../http-upstream-probe.js";
import { probeFailure as failure } from "../../tcp-probe.js";

/**
 * Readiness of a `type: mcp` connection (/readyz), without a credential and without opening an MCP session: an
 * http upstream answers `OPTIONS *` with an HTTP/1.x status line, an https one completes a verified TLS
 * handshake, a stdio server's executable exists and may be run.
 */
export async function probeMcpUpstream(connection: ConnectionConfig, timeoutMs: number): Promise<void> {
  if (connection.type !== "mcp") throw failure("not_mcp");
  if (connection.command !== undefined) return executableExists(connection.command[0]!, connection.cwd);
  // An mcp connection names no CA bundle: an https server is verified against the system CAs.
  return probeHttpUpstream(connection.upstream!, timeoutMs);
}

async function executableExists(command: string, cwd: string | undefined): Promise<void> {
  const candidates = command.includes("/")
    ? [path.resolve(cwd ?? process.cwd(), command)]
    : (process.env.PATH ?? "").split(path.delimiter).map((dir) => path.join(dir, command));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return;
    } catch {
      // next
    }
  }
  throw failure("command_not_found");
}
