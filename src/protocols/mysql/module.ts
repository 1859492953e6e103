import net from "node:net";
import type { ConnectionConfig, LatchConfig } from "../../config/schema.js";
import type { LatchError } from "../../errors.js";
import { createMysqlClassifier, loadMysqlParser } from "../../sql/mysql/create-classifier.js";
import { ConnectionLimits } from "../connection-limits.js";
import { listenOn } from "../listen-address.js";
import type { ProtocolContext, ProtocolListener, ProtocolModule } from "../protocol-module.js";
import { probeTcp, upstreamEndpoint } from "../tcp-probe.js";
import { createMysqlConnectionMasking, type MysqlConnectionMasking } from "./connection-masking.js";
import { startMysqlEphemeralUsers } from "./ephemeral-reaper.js";
import { errorPacket, errPayload } from "./errors.js";
import { handleMysqlClient } from "./front.js";

/** MySQL / MariaDB client/server protocol: one listener, the handshake's database names the connection. */
export const mysqlModule: ProtocolModule = {
  name: "mysql",
  connectionType: "mysql",
  listenAddress: (config: LatchConfig) => config.listen.mysql,
  renderError: (error: LatchError) => errPayload(error),
  start,
  probe,
};

/** Ready when the upstream greets with a HandshakeV10 (protocol byte 10) or an ERR: a MySQL server is there. */
function probe(connection: ConnectionConfig, timeoutMs: number): Promise<void> {
  const { host, port } = upstreamEndpoint(connection.upstream, 3306);
  return probeTcp({
    host,
    port,
    timeoutMs,
    judge: (received) =>
      received.length < 5 ? "more" : received[4] === 10 || received[4] === 0xff ? "ok" : "unexpected",
  });
}

async function start(context: ProtocolContext): Promise<ProtocolListener> {
  const { config, log } = context;
  // Built at start-up so an unknown masking profile or a bad detector stops the gateway with a clear error.
  const masking = new Map<string, MysqlConnectionMasking>();
  for (const [name, connection] of Object.entries(config.connections)) {
    if (connection.type !== "mysql") continue;
    const compiled = createMysqlConnectionMasking(connection, config);
    if (compiled !== undefined) masking.set(name, compiled);
  }
  await loadMysqlParser();
  const ephemeral = await startMysqlEphemeralUsers(config, context, log);
  const deps = {
    ephemeral: ephemeral.byConnection,
    config,
    tls: context.tls,
    gate: context.gate,
    classifier: createMysqlClassifier(),
    pipeline: context.pipeline,
    masking,
    metrics: context.metrics,
    log,
  };
  const limits = new ConnectionLimits(
    config.limits.max_connections,
    config.limits.max_handshakes_per_address,
  );
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.on("error", () => socket.destroy());
    const admitted = limits.admit(socket.remoteAddress ?? "?");
    if ("refusal" in admitted) {
      context.metrics.connectionsRefused.inc({ protocol: "mysql", reason: admitted.refusal.code });
      socket.end(errorPacket(admitted.refusal, 0));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    socket.once("close", admitted.ticket.closed);
    void handleMysqlClient(socket, { ...deps, ticket: admitted.ticket });
  });
  const address = await listenOn(server, config.listen.mysql, "mysql").catch(async (error: unknown) => {
    await ephemeral.close();
    throw error;
  });
  return {
    address,
    stopAccepting: () => void server.close(),
    async close() {
      server.close();
      // Live sessions were ended through the registry before this: their users are being dropped; wait.
      await ephemeral.close();
    },
  };
}
