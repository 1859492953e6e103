import type pg from "pg";
import type {
  LiveSessionFilter,
  LiveSessionRecord,
  LiveSessionStore,
  NewLiveSession,
} from "../live-session-store.js";

interface LiveSessionRow {
  id: string;
  gateway_id: string;
  protocol: string;
  connection: string;
  subject: string;
  groups: string[];
  client_address: string;
  /** bigint epoch ms, strings from pg. */
  started_at: string;
  last_seen: string;
  last_activity: string | null;
}

const INSERTED_COLUMNS =
  "id, gateway_id, protocol, connection, subject, groups, client_address, started_at, last_seen";
const COLUMNS =
  "id, gateway_id, protocol, connection, subject, groups, client_address, started_at, last_seen, last_activity";

/**
 * Live sessions of every replica on the PostgreSQL store they share: any replica lists all of them, and the
 * sessions of a replica that stopped sending heartbeats are removed by whichever replica notices first. Each
 * method is one statement; two replicas removing the same stale sessions each get the rows they deleted, so
 * every session's end is reported once.
 */
export function createPgLiveSessionStore(pool: pg.Pool): LiveSessionStore {
  return {
    async add(session: NewLiveSession) {
      const startedAt = Date.parse(session.startedAt);
      if (Number.isNaN(startedAt)) throw new TypeError(`startedAt is not a time: ${session.startedAt}`);
      // No ON CONFLICT: a session id already live is a unique violation, and the add rejects.
      await pool.query(
        `INSERT INTO latch_live_sessions (${INSERTED_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $8)`,
        [
          session.id,
          session.gatewayId,
          session.protocol,
          session.connection,
          session.subject,
          JSON.stringify(session.groups),
          session.clientAddress,
          startedAt,
        ],
      );
    },
    async remove(id) {
      const { rowCount } = await pool.query("DELETE FROM latch_live_sessions WHERE id = $1", [id]);
      return rowCount === 1;
    },
    async list(filter: LiveSessionFilter = {}) {
      const where: string[] = [];
      const params: string[] = [];
      if (filter.gatewayId !== undefined) where.push(`gateway_id = $${params.push(filter.gatewayId)}`);
      if (filter.subject !== undefined) where.push(`subject = $${params.push(filter.subject)}`);
      if (filter.connection !== undefined) where.push(`connection = $${params.push(filter.connection)}`);
      const { rows } = await pool.query<LiveSessionRow>(
        `SELECT ${COLUMNS} FROM latch_live_sessions${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`}
         ORDER BY started_at, id`,
        params,
      );
      return rows.map(toRecord);
    },
    async heartbeat(gatewayId, at, activity) {
      // Touches every session of the gateway (the count is all of them) but never moves last_seen back; the
      // gateway's own row in the same statement.
      const { rows } = await pool.query<{ touched: string }>(
        `WITH gateway AS (
           INSERT INTO latch_gateways (id, last_seen) VALUES ($1, $2)
           ON CONFLICT (id) DO UPDATE SET last_seen = greatest(latch_gateways.last_seen, excluded.last_seen)
         ), touched AS (
           UPDATE latch_live_sessions s
              SET last_seen = greatest(s.last_seen, $2),
                  last_activity = NULLIF(greatest(coalesce(s.last_activity, 0), coalesce(
                    (SELECT r.at FROM unnest($3::text[], $4::bigint[]) AS r(id, at) WHERE r.id = s.id), 0)), 0)
            WHERE s.gateway_id = $1
           RETURNING 1
         )
         SELECT count(*) AS touched FROM touched`,
        [gatewayId, at, [...(activity?.keys() ?? [])], [...(activity?.values() ?? [])]],
      );
      return Number(rows[0]?.touched ?? 0);
    },
    async staleGateways(before) {
      const { rows } = await pool.query<{ id: string }>(
        "SELECT id FROM latch_gateways WHERE last_seen < $1 ORDER BY id",
        [before],
      );
      return rows.map((row) => row.id);
    },
    async removeStale(before) {
      const { rows } = await pool.query<LiveSessionRow>(
        `WITH gone AS (DELETE FROM latch_live_sessions WHERE last_seen < $1 RETURNING ${COLUMNS})
         SELECT * FROM gone ORDER BY started_at, id`,
        [before],
      );
      return rows.map(toRecord);
    },
  };
}

function toRecord(row: LiveSessionRow): LiveSessionRecord {
  return {
    id: row.id,
    gatewayId: row.gateway_id,
    protocol: row.protocol,
    connection: row.connection,
    subject: row.subject,
    groups: row.groups,
    clientAddress: row.client_address,
    startedAt: new Date(Number(row.started_at)).toISOString(),
    lastSeen: new Date(Number(row.last_seen)).toISOString(),
    lastActivityAt: new Date(Number(row.last_activity ?? row.started_at)).toISOString(),
  };
}
