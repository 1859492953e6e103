import type { Logger } from "pino";
import type { LatchConfig } from "../../config/schema.js";
import type { ProtocolContext } from "../protocol-module.js";
import { MysqlEphemeralUsers } from "./ephemeral-users.js";

/** How often leftovers (a crashed gateway's users, a gone replica's) are looked for, besides at start-up. */
const REAP_EVERY_MS = 60_000;

export interface MysqlEphemeralSet {
  readonly byConnection: ReadonlyMap<string, MysqlEphemeralUsers>;
  /** Stops the reaper, waits for drops in flight and closes the admin connections. */
  close(): Promise<void>;
}

/**
 * One MysqlEphemeralUsers per connection with `ephemeral:`, sharing one set of live users; leftovers are reaped
 * before the listener opens, every minute, and at once when a replica of this store is found gone.
 */
export async function startMysqlEphemeralUsers(
  config: LatchConfig,
  context: Pick<ProtocolContext, "gatewayId" | "staleGateways" | "onGatewaysGone" | "pipeline">,
  log: Logger,
): Promise<MysqlEphemeralSet> {
  const live = new Set<string>();
  const byConnection = new Map<string, MysqlEphemeralUsers>();
  for (const [name, connection] of Object.entries(config.connections)) {
    if (connection.type !== "mysql" || connection.ephemeral === undefined) continue;
    byConnection.set(
      name,
      new MysqlEphemeralUsers({
        connectionName: name,
        connection,
        settings: connection.ephemeral,
        gatewayId: context.gatewayId,
        live,
        staleGateways: context.staleGateways,
        record: (event) => context.pipeline.record(event),
        log,
      }),
    );
  }
  const reapAll = () =>
    Promise.all(
      [...byConnection].map(([name, users]) =>
        users.reap().then(
          (count) => count > 0 && log.info({ connection: name, count }, "reaped leftover ephemeral users"),
          (error: Error) =>
            log.warn({ connection: name, err: error.message }, "ephemeral user reaper failed"),
        ),
      ),
    );
  let reaper: NodeJS.Timeout | undefined;
  let stopWatchingGone = () => {};
  if (byConnection.size > 0) {
    await reapAll();
    reaper = setInterval(() => void reapAll(), REAP_EVERY_MS);
    reaper.unref();
    stopWatchingGone = context.onGatewaysGone(() => void reapAll());
  }
  return {
    byConnection,
    async close() {
      clearInterval(reaper);
      stopWatchingGone();
      await Promise.allSettled([...byConnection.values()].map((users) => users.close()));
    },
  };
}
