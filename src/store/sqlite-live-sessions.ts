import type {
  LiveSessionFilter,
  LiveSessionRecord,
  LiveSessionStore,
  NewLiveSession,
} from "./live-session-store.js";
import { ReportedActivity } from "./reported-activity.js";
import { guardSideStore, openSqliteSideConnection } from "./sqlite-side-connection.js";

export interface SqliteLiveSessionStore extends LiveSessionStore {
  close(): void;
}

interface LiveSessionRow {
  id: string;
  gateway_id: string;
  protocol: string;
  connection: string;
  subject: string;
  groups: string;
  client_address: string;
  started_at: number;
  last_seen: number;
  last_activity: number | null;
}

/**
 * Live sessions in the gateway's SQLite file, through a connection of its own (like approvals). One process
 * writes a SQLite store, so here this mirrors the gateway's own registry; the table is what a shared store
 * (PostgreSQL) fills from every replica.
 */
export function createSqliteLiveSessionStore(file: string): SqliteLiveSessionStore {
  const db = openSqliteSideConnection(file, "live session store");
  const insert = db.prepare(`INSERT INTO live_sessions
    (id, gateway_id, protocol, connection, subject, groups, client_address, started_at, last_seen)
    VALUES (@id, @gateway_id, @protocol, @connection, @subject, @groups, @client_address, @started_at, @last_seen)`);
  const remove = db.prepare("DELETE FROM live_sessions WHERE id = ?");
  const touch = db.prepare("UPDATE live_sessions SET last_seen = ? WHERE gateway_id = ? AND last_seen < ?");
  const countOf = db.prepare("SELECT count(*) AS n FROM live_sessions WHERE gateway_id = ?");
  const seenGateway = db.prepare(
    "INSERT INTO gateways (id, last_seen) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
  );
  // Every session that had traffic since the last beat in one statement ([[id, at], ...] as JSON), instead of
  // one statement per session: with 1,000 live sessions that was 1,000 autocommit writes on the main thread.
  // The unary + keeps the planner off the gateway_id index (that plan scanned the JSON once per session of the
  // gateway). The last condition keeps last activity from moving back and leaves alone the rows it would not
  // change, including a session without traffic yet (reported at its start, which it lists already).
  const active = db.prepare(`UPDATE live_sessions SET last_activity = reported.at
    FROM (SELECT value ->> 0 AS id, value ->> 1 AS at FROM json_each(?)) AS reported
    WHERE live_sessions.id = reported.id AND +live_sessions.gateway_id = ?
      AND coalesce(live_sessions.last_activity, live_sessions.started_at) < reported.at`);
  const reported = new ReportedActivity();
  const beat = db.transaction((gatewayId: string, at: number, changed: [string, number][]): number => {
    // A heartbeat never moves last_seen back (a late timer after a newer one).
    touch.run(at, gatewayId, at);
    if (changed.length > 0) active.run(JSON.stringify(changed), gatewayId);
    seenGateway.run(gatewayId, at);
    return (countOf.get(gatewayId) as { n: number }).n;
  });
  const staleGateways = db.prepare("SELECT id FROM gateways WHERE last_seen < ? ORDER BY id").pluck();
  const stale = db.prepare("SELECT * FROM live_sessions WHERE last_seen < ? ORDER BY started_at, id");
  const removeStale = db.transaction((before: number): LiveSessionRow[] => {
    const rows = stale.all(before) as LiveSessionRow[];
    for (const row of rows) {
      remove.run(row.id);
      reported.forget(row.id);
    }
    return rows;
  });

  return guardSideStore<SqliteLiveSessionStore>(file, {
    async add(session: NewLiveSession) {
      const startedAt = Date.parse(session.startedAt);
      if (Number.isNaN(startedAt)) throw new TypeError(`startedAt is not a time: ${session.startedAt}`);
      insert.run({
        id: session.id,
        gateway_id: session.gatewayId,
        protocol: session.protocol,
        connection: session.connection,
        subject: session.subject,
        groups: JSON.stringify(session.groups),
        client_address: session.clientAddress,
        started_at: startedAt,
        last_seen: startedAt,
      });
    },
    async remove(id) {
      reported.forget(id);
      return remove.run(id).changes === 1;
    },
    async list(filter: LiveSessionFilter = {}) {
      const where: string[] = [];
      const params: Record<string, string> = {};
      if (filter.gatewayId !== undefined) {
        where.push("gateway_id = @gatewayId");
        params.gatewayId = filter.gatewayId;
      }
      if (filter.subject !== undefined) {
        where.push("subject = @subject");
        params.subject = filter.subject;
      }
      if (filter.connection !== undefined) {
        where.push("connection = @connection");
        params.connection = filter.connection;
      }
      const sql = `SELECT * FROM live_sessions${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`} ORDER BY started_at, id`;
      return (db.prepare(sql).all(params) as LiveSessionRow[]).map(toRecord);
    },
    async heartbeat(gatewayId, at, activity) {
      // One write transaction per beat, and only the sessions whose last activity changed since the last one.
      const changed = activity === undefined ? [] : reported.newer(gatewayId, activity);
      const touched = beat.immediate(gatewayId, at, changed);
      reported.written(gatewayId, changed);
      return touched;
    },
    async staleGateways(before) {
      return staleGateways.all(before) as string[];
    },
    async removeStale(before) {
      return removeStale.immediate(before).map(toRecord);
    },
    close: () => db.close(),
  });
}

function toRecord(row: LiveSessionRow): LiveSessionRecord {
  return {
    id: row.id,
    gatewayId: row.gateway_id,
    protocol: row.protocol,
    connection: row.connection,
    subject: row.subject,
    groups: JSON.parse(row.groups) as string[],
    clientAddress: row.client_address,
    startedAt: new Date(row.started_at).toISOString(),
    lastSeen: new Date(row.last_seen).toISOString(),
    lastActivityAt: new Date(row.last_activity ?? row.started_at).toISOString(),
  };
}
