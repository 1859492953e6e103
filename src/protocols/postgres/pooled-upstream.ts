import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { PostgresConnectionConfig } from "../../config/schema.js";
import { parseDuration } from "../../identity/parse-duration.js";
import { FrameReader } from "./frame-reader.js";
import type { TransactionStatus } from "./messages.js";
import type { UpstreamTarget } from "./upstream.js";
import {
  closeUpstream,
  credentialFingerprint,
  type PooledUpstream,
  type UpstreamPool,
  type UpstreamPoolSettings,
  upstreamPoolKey,
} from "./upstream-pool.js";
import { resetUpstream } from "./upstream-reset.js";

/** The upstream a session relays to: freshly logged in, or a pooled backend reset to its startup state. */
export interface SessionUpstream extends PooledUpstream {
  /** Holds any bytes the server sent after ReadyForQuery in the same packet. */
  readonly frames: FrameReader;
  readonly status: TransactionStatus;
}

/** One session's way in and out of the pool: its key and credential digest are computed once. */
export interface SessionPooling {
  /** An idle backend reset to its startup state, or undefined: the session dials. */
  checkout(): SessionUpstream | undefined;
  /** Resets the backend the session ended with and keeps it, or closes it when the reset fails. */
  release(socket: Duplex, upstream: SessionUpstream, cancelsDelivered: Promise<void> | undefined): void;
}

/** The connection's pool settings, or undefined when it does not pool (ephemeral roles never do). */
export function poolSettings(connection: PostgresConnectionConfig): UpstreamPoolSettings | undefined {
  const pool = connection.pool;
  if (pool === undefined || connection.ephemeral !== undefined) return undefined;
  return {
    maxIdle: pool.max_idle,
    idleTimeoutMs: parseDuration(pool.idle_timeout),
    maxLifetimeMs: parseDuration(pool.max_lifetime),
  };
}

export function sessionPooling(
  pool: UpstreamPool | undefined,
  connection: PostgresConnectionConfig,
  session: {
    readonly target: UpstreamTarget;
    readonly forward: ReadonlyMap<string, string>;
    readonly password: string | undefined;
    readonly maxFrameBytes: number;
    readonly log: Logger;
  },
): SessionPooling | undefined {
  const settings = poolSettings(connection);
  if (pool === undefined || settings === undefined) return undefined;
  const { target, maxFrameBytes, log } = session;
  const key = upstreamPoolKey(target, session.forward);
  const fingerprint = credentialFingerprint(session.password);
  return {
    checkout() {
      const pooled = pool.checkout(key, fingerprint, settings);
      if (pooled === undefined) return undefined;
      return { ...pooled, frames: new FrameReader({ maxFrameBytes, startup: false }), status: "I" };
    },
    release(socket, upstream, cancelsDelivered) {
      resetUpstream(socket, upstream.parameters, {
        maxFrameBytes,
        ...(cancelsDelivered === undefined ? {} : { cancelsDelivered }),
      }).then(
        (parameters) =>
          pool.release(
            key,
            target.connectionName,
            fingerprint,
            { socket, parameters, backendKey: upstream.backendKey, bornAt: upstream.bornAt },
            settings,
          ),
        (error: Error) => {
          log.debug(
            { connection: target.connectionName, reason: error.message },
            "upstream connection not reused: its reset failed",
          );
          closeUpstream(socket);
        },
      );
    },
  };
}
