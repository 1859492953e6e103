import { readFileSync } from "node:fs";
import tls from "node:tls";
import { probeFailure, probeTcp, upstreamEndpoint } from "./tcp-probe.js";

/**
 * Readiness of an http(s) upstream without sending a credential (HTTP connections and MCP servers reached over
 * HTTP share it): a plain-http upstream answers `OPTIONS *` with any HTTP/1.x status line, an https one
 * completes a verified TLS handshake (against `caFile` when given).
 */
export function probeHttpUpstream(upstream: string, timeoutMs: number, caFile?: string): Promise<void> {
  const url = new URL(upstream);
  const { host, port } = upstreamEndpoint(upstream, url.protocol === "https:" ? 443 : 80);
  if (url.protocol === "https:") return probeTls(host, port, url.hostname, caFile, timeoutMs);
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

function probeTls(
  host: string,
  port: number,
  servername: string,
  caFile: string | undefined,
  timeoutMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      servername,
      rejectUnauthorized: true,
      ...(caFile === undefined ? {} : { ca: readFileSync(caFile) }),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(probeFailure("timeout"));
    }, timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(probeFailure(error.code ?? "tls_error"));
    });
  });
}
