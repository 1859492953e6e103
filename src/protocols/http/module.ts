import type { ConnectionConfig, LatchConfig } from "../../config/schema.js";
import type { LatchError } from "../../errors.js";
import { httpListenAddress } from "../http-listen-address.js";
import { probeHttpUpstream } from "../http-upstream-probe.js";
import type { ProtocolContext, ProtocolListener, ProtocolModule } from "../protocol-module.js";
import { problemOf } from "./errors.js";
import type { HttpConnectionRuntime } from "./exchange-types.js";
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

/** Ready when the upstream answers without a credential (http-upstream-probe.ts). */
function probe(connection: ConnectionConfig, timeoutMs: number): Promise<void> {
  if (connection.type !== "http")
    return Promise.reject(new Error(`not an http connection: ${connection.type}`));
  return probeHttpUpstream(connection.upstream, timeoutMs, connection.ca_file);
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
