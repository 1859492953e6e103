import { readFileSync } from "node:fs";
import tls from "node:tls";
import type { ConnectionConfig, LatchConfig } from "../../config/schema.js";
import type { LatchError } from "../../errors.js";
import { httpListenAddress } from "../http-listen-address.js";
import type { ProtocolContext, ProtocolListener, ProtocolModule } from "../protocol-module.js";
import { probeTcp, upstreamEndpoint } from "../tcp-probe.js";
import { problemOf } from "./errors.js";
import type { HttpConnectionRuntime } from "./exchange.js";
import { startHttpListener } from "./front.js";
import { compileConnectionMasking } from "./response-masker.js";
import { HttpSessions } from "./session.js";
import { createHttpToolRunner } from "./tool-runner.js";
import { HttpUpstream } from "./upstream.js";

/** HTTP APIs: /<connection>/<path>, the caller's bearer token is its identity, every request an http:* operation. */
export const httpModule: ProtocolModule = {
  name: "http",
  connectionType: "http",
  listenAddress: (config: LatchConfig) => httpListenAddress(config),
  // The listener also carries what other protocols mount on it (the MCP endpoint).
  listensWithoutConnections: (context: ProtocolContext) => context.httpMounts.length > 0,
  renderError: (error: LatchError) => Buffer.from(problemOf(error).body),
  start,
  probe,
  agentTools: (context) => {
    const http = createHttpToolRunner(context);
    return http === undefined ? {} : { http };
  },
};

/**
 * Ready when a plain-http upstream answers `OPTIONS *` with any HTTP/1.x status line (no credential is sent),
 * or an https upstream completes a verified TLS handshake.
 */
function probe(connection: ConnectionConfig, timeoutMs: number): Promise<void> {
  if (connection.type !== "http")
    return Promise.reject(new Error(`not an http connection: ${connection.type}`));
  const url = new URL(connection.upstream);
  const { host, port } = upstreamEndpoint(connection.upstream, url.protocol === "https:" ? 443 : 80);
  if (url.protocol === "https:") {
    const caFile = connection.type === "http" ? connection.ca_file : undefined;
    return probeTls(host, port, url.hostname, caFile, timeoutMs);
  }
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
      reject(Object.assign(new Error("upstream check failed: timeout"), { code: "timeout" }));
    }, timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        Object.assign(new Error(`upstream check failed: ${error.code}`), { code: error.code ?? "tls_error" }),
      );
    });
  });
}

async function start(context: ProtocolContext): Promise<ProtocolListener> {
  const { config } = context;
  // Built at start: a bad masking profile, pointer or CA file stops the gateway here, not at the first request.
  const connections = new Map<string, HttpConnectionRuntime>();
  for (const [name, connection] of Object.entries(config.connections)) {
    if (connection.type !== "http") continue;
    connections.set(name, {
      name,
      config: connection,
      upstream: new HttpUpstream(name, connection),
      masking: compileConnectionMasking(name, connection, config.masking),
    });
  }
  const sessions = new HttpSessions({ gate: context.gate, log: context.log });
  const listener = await startHttpListener({
    config,
    sessions,
    pipeline: context.pipeline,
    metrics: context.metrics,
    log: context.log,
    tls: context.tls,
    mounts: context.httpMounts,
    connections,
  });
  return {
    address: listener.address,
    stopAccepting: () => listener.stopAccepting(),
    close: async () => {
      await listener.close();
      for (const runtime of connections.values()) await runtime.upstream.close();
    },
  };
}
