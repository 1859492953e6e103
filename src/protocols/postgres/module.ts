import net from "node:net";
import type { ConnectionConfig, LatchConfig } from "../../config/schema.js";
import { isLoopback } from "../../config/upstream-tls-choice.js";
import { PostgresEphemeralRoles } from "../../credentials/postgres-ephemeral.js";
import type { LatchError } from "../../errors.js";
import { createStatementClassifier, loadSqlParser } from "../../sql/postgres/create-classifier.js";
import { ConnectionLimits } from "../connection-limits.js";
import { listenOn } from "../listen-address.js";
import type { ProtocolContext, ProtocolListener, ProtocolModule } from "../protocol-module.js";
import { probeTcp, upstreamEndpoint } from "../tcp-probe.js";
import { CancelRegistry } from "./cancel-registry.js";
import { type ConnectionMasking, createConnectionMasking } from "./connection-masking.js";
import { errorFrame } from "./errors.js";
import { handlePostgresClient } from "./front.js";
import { UpstreamPool } from "./upstream-pool.js";

const REAP_EVERY_MS = 60_000;

/** PostgreSQL v3: one listener, the startup "database" names the connection. */
export const postgresModule: ProtocolModule = {
  name: "postgres",
  connectionType: "postgres",
  listenAddress: (config: LatchConfig) => config.listen.postgres,
  renderError: (error: LatchError) => errorFrame(error),
  start,
  probe,
};

/** SSLRequest: length 8, code 80877103. Any PostgreSQL server answers it with one byte, before authentication. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

/** Ready when the upstream answers an SSLRequest with 'S' or 'N': a PostgreSQL server is there, no login used. */
function probe(connection: ConnectionConfig, timeoutMs: number): Promise<void> {
  const { host, port } = upstreamEndpoint(connection.upstream, 5432);
  return probeTcp({
    host,
    port,
    timeoutMs,
    send: SSL_REQUEST,
    judge: (received) => (received[0] === 0x53 || received[0] === 0x4e ? "ok" : "unexpected"),
  });
}

async function start(context: ProtocolContext): Promise<ProtocolListener> {
  const { config, log, pipeline } = context;
  await loadSqlParser();
  const classifier = createStatementClassifier({
    dangerousFunctions: config.sql.dangerous_functions,
    safeFunctions: config.sql.safe_functions,
  });
  const masking = new Map<string, ConnectionMasking>();
  const ephemeral = new Map<string, PostgresEphemeralRoles>();
  let reaper: NodeJS.Timeout | undefined;
  let stopWatchingGone = () => {};
  // Backends outlive their sessions only for connections that set `pool:` (refused with `ephemeral:`).
  const pool = new UpstreamPool(undefined, {
    idleChanged: (connection, idle) => context.metrics.upstreamPoolIdle.set({ connection }, idle),
  });
  const closeAll = async () => {
    pool.close();
    clearInterval(reaper);
    stopWatchingGone();
    // The sessions' roles are dropped before the admin pools close.
    await Promise.allSettled([...ephemeral.values()].map((roles) => roles.close()));
    await Promise.allSettled([...masking.values()].map((m) => m.close()));
  };
  try {
    for (const [name, connection] of Object.entries(config.connections)) {
      if (connection.type !== "postgres") continue;
      const upstreamHost = new URL(connection.upstream).hostname.replace(/^\[|\]$/g, "");
      if (connection.tls === "disable" && !isLoopback(upstreamHost))
        log.warn(
          { connection: name, upstream: upstreamHost },
          "this connection reaches its upstream in plaintext (tls: disable): every statement and result crosses the network in clear; use tls: verify-full",
        );
      // Built at start-up so an unknown masking profile or bad detector stops the gateway with a clear error.
      if (connection.masking.length > 0)
        masking.set(name, createConnectionMasking(name, connection, config, log));
      if (connection.pool !== undefined) context.metrics.upstreamPoolIdle.set({ connection: name }, 0);
      if (connection.ephemeral !== undefined) {
        ephemeral.set(
          name,
          new PostgresEphemeralRoles({
            connectionName: name,
            connection,
            settings: connection.ephemeral,
            gatewayId: context.gatewayId,
            staleGateways: context.staleGateways,
            record: (event) => pipeline.record(event),
            log,
          }),
        );
      }
    }
    // Roles left behind by a crashed gateway are dropped now and every minute.
    const reapAll = () =>
      Promise.all(
        [...ephemeral].map(([name, roles]) =>
          roles.reap().then(
            (count) => count > 0 && log.info({ connection: name, count }, "reaped leftover ephemeral roles"),
            (error: Error) =>
              log.warn({ connection: name, err: error.message }, "ephemeral role reaper failed"),
          ),
        ),
      );
    if (ephemeral.size > 0) {
      await reapAll();
      reaper = setInterval(() => void reapAll(), REAP_EVERY_MS);
      reaper.unref();
      // A replica found gone: its roles are reaped now, not at the next minute.
      stopWatchingGone = context.onGatewaysGone(() => void reapAll());
    }
    const deps = {
      config,
      tls: context.tls,
      gate: context.gate,
      classifier,
      pipeline,
      metrics: context.metrics,
      log,
      cancels: new CancelRegistry(),
      masking,
      ephemeral,
      pool,
    };
    const limits = new ConnectionLimits(
      config.limits.max_connections,
      config.limits.max_handshakes_per_address,
    );
    const server = net.createServer({ noDelay: true }, (socket) => {
      socket.on("error", () => socket.destroy());
      const admitted = limits.admit(socket.remoteAddress ?? "?");
      if ("refusal" in admitted) {
        // As PostgreSQL does when it is full: an ErrorResponse right away (libpq reports it even in reply to
        // an SSLRequest), then close.
        context.metrics.connectionsRefused.inc({ protocol: "postgres", reason: admitted.refusal.code });
        log.warn({ client: socket.remoteAddress, reason: admitted.refusal.message }, "connection refused");
        socket.end(errorFrame(admitted.refusal, "FATAL"));
        setTimeout(() => socket.destroy(), 1000).unref();
        return;
      }
      socket.once("close", admitted.ticket.closed);
      void handlePostgresClient(socket, { ...deps, ticket: admitted.ticket });
    });
    const address = await listenOn(server, config.listen.postgres, "postgres");
    return {
      address,
      stopAccepting: () => void server.close(),
      async close() {
        // Not awaited: sockets of sessions the registry just ended close on their own within a second.
        server.close();
        await closeAll();
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
