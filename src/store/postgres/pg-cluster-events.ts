import pg from "pg";
import type { ClusterEvent, ClusterEvents } from "../../cluster/cluster-events.js";

const CHANNEL = "latch_cluster";
/** Ids are handed out before commit, so a later id can become visible first: look back this far, skip seen ones. */
const LOOK_BACK = 64;
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;
const PRUNE_EVERY_MS = 5 * 60_000;

export interface PgClusterEventsOptions {
  /** This gateway: its own events are not delivered back to it. */
  readonly gatewayId: string;
  /** Told when the listening connection drops or comes back (for logs). */
  readonly onConnection?: (state: "lost" | "restored", error?: unknown) => void;
}

/**
 * Cross-replica events through PostgreSQL itself, no broker: `publish` inserts a row and NOTIFYs its id in
 * one statement; each gateway LISTENs on a connection of its own and, on every notification and after every
 * reconnect, reads the rows after the last one it handled. A notification missed while disconnected is thus
 * caught up from the table, not lost.
 */
export function createPgClusterEvents(
  pool: pg.Pool,
  options: PgClusterEventsOptions,
): ClusterEvents & {
  /** Resolves once the listener is connected and listening (tests, start-up). */
  ready(): Promise<void>;
} {
  const handlers = new Set<(event: ClusterEvent, origin: string) => void>();
  const seen = new Set<number>();
  let lastId = 0;
  /** Nothing at or below this id is delivered: it was published before this gateway started listening. */
  let floor: number | undefined;
  let client: pg.Client | undefined;
  let closed = false;
  let retryMs = RETRY_MIN_MS;
  let reading: Promise<void> | undefined;
  let readAgain = false;
  let lastPrune = Date.now();
  let resolveReady!: () => void;
  const readyOnce = new Promise<void>((resolve) => {
    resolveReady = resolve;
  });

  const deliver = (id: number, origin: string, kind: string, body: Record<string, unknown>) => {
    if (seen.has(id) || floor === undefined || id <= floor) return;
    seen.add(id);
    lastId = Math.max(lastId, id);
    for (const old of seen) if (old < lastId - LOOK_BACK) seen.delete(old);
    if (origin === options.gatewayId) return;
    const event = { kind, ...body } as ClusterEvent;
    for (const handler of handlers) handler(event, origin);
  };

  // One read at a time; notifications arriving meanwhile ask for one more read after it.
  const catchUp = (): Promise<void> => {
    if (reading !== undefined) {
      readAgain = true;
      return reading;
    }
    reading = (async () => {
      do {
        readAgain = false;
        const { rows } = await pool.query<{
          id: string;
          origin: string;
          kind: string;
          body: Record<string, unknown>;
        }>("SELECT id, origin, kind, body FROM latch_cluster_events WHERE id > $1 ORDER BY id", [
          Math.max(0, lastId - LOOK_BACK),
        ]);
        for (const row of rows) deliver(Number(row.id), row.origin, row.kind, row.body);
      } while (readAgain);
    })()
      .catch(() => undefined) // the store is down: the reconnect that follows catches up
      .finally(() => {
        reading = undefined;
      });
    return reading;
  };

  const connect = async (): Promise<void> => {
    if (closed) return;
    const next = new pg.Client(pool.options);
    next.on("error", () => undefined); // 'end' follows and schedules the reconnect
    try {
      await next.connect();
      if (floor === undefined) {
        // Start from now: events before this gateway started are history, not instructions.
        const { rows } = await next.query<{ id: string | null }>(
          "SELECT max(id) AS id FROM latch_cluster_events",
        );
        floor = Number(rows[0]?.id ?? 0);
        lastId = floor;
      }
      next.on("notification", () => void catchUp());
      next.on("end", () => {
        if (client === next) client = undefined;
        if (!closed) {
          options.onConnection?.("lost");
          scheduleReconnect();
        }
      });
      await next.query(`LISTEN ${CHANNEL}`);
      if (closed) {
        await next.end().catch(() => undefined);
        return;
      }
      client = next;
      const wasRetrying = retryMs > RETRY_MIN_MS;
      retryMs = RETRY_MIN_MS;
      await catchUp();
      if (wasRetrying) options.onConnection?.("restored");
      resolveReady();
    } catch (error) {
      await next.end().catch(() => undefined);
      options.onConnection?.("lost", error);
      scheduleReconnect();
    }
  };

  let reconnectTimer: NodeJS.Timeout | undefined;
  const scheduleReconnect = () => {
    if (closed || reconnectTimer !== undefined) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      void connect();
    }, retryMs);
    retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
  };

  void connect();

  return {
    shared: true,
    async publish(event) {
      const { kind, ...body } = event;
      await pool.query(
        `WITH e AS (INSERT INTO latch_cluster_events (origin, kind, body) VALUES ($1, $2, $3) RETURNING id)
         SELECT pg_notify('${CHANNEL}', id::text) FROM e`,
        [options.gatewayId, kind, body],
      );
      if (Date.now() - lastPrune > PRUNE_EVERY_MS) {
        lastPrune = Date.now();
        await pool
          .query("DELETE FROM latch_cluster_events WHERE at < now() - interval '1 hour'")
          .catch(() => undefined);
      }
    },
    subscribe(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    ready: () => readyOnce,
    async close() {
      closed = true;
      clearTimeout(reconnectTimer);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
      await reading;
    },
  };
}
