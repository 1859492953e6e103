import { constants } from "node:fs";
import { access } from "node:fs/promises";
import path from "node:path";
import tls from "node:tls";
import type { ConnectionConfig } from "../../../config/schema.js";
import { probeTcp, upstreamEndpoint } from "../../tcp-probe.js";

const failure = (code: string) => Object.assign(new Error(`upstream check failed: ${code}`), { code });

/**
 * Readiness of a `type: mcp` connection (/readyz), without a credential and without opening an MCP session: an
 * http upstream answers `OPTIONS *` with an HTTP/1.x status line, an https one completes a verified TLS
 * handshake, a stdio server's executable exists and may be run.
 */
export async function probeMcpUpstream(connection: ConnectionConfig, timeoutMs: number): Promise<void> {
  if (connection.type !== "mcp") throw failure("not_mcp");
  if (connection.command !== undefined) return executableExists(connection.command[0]!, connection.cwd);
  const url = new URL(connection.upstream!);
  const { host, port } = upstreamEndpoint(connection.upstream, url.protocol === "https:" ? 443 : 80);
  if (url.protocol === "https:")
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host, port, servername: url.hostname, rejectUnauthorized: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(failure("timeout"));
      }, timeoutMs);
      socket.once("secureConnect", () => {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      });
      socket.once("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(failure(error.code ?? "tls_error"));
      });
    });
  return probeTcp({
    host,
    port,
    timeoutMs,
    send: Buffer.from(`OPTIONS * HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`),
    judge: (received) => {
      const text = received.toString("latin1");
      if (text.length < 9) return "more";
      return text.startsWith("HTTP/1.") ? "ok" : "unexpected";
    },
  });
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
