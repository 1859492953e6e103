import type pg from "pg";
import type { AuditExportCursors } from "../audit-export-cursors.js";

/** Now in epoch ms on the store's clock: every replica's leases are judged by one clock. */
const STORE_NOW_MS = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/**
 * Audit export cursors on the PostgreSQL store, with a lease per sink: a replica exports a sink only while it
 * holds the sink's lease (`holder`, until `lease_until` on the store's clock) and renews it as it goes; when it
 * dies the lease runs out and the next replica to ask takes the sink over from the saved cursor. A cursor only
 * moves forward, so a replica that lost its lease mid-batch cannot move it back (delivery stays at least once).
 */
export function createPgExportCursors(pool: pg.Pool, options: { holder: string }): AuditExportCursors {
  return {
    async get(sink) {
      const { rows } = await pool.query<{ seq: string }>(
        "SELECT seq FROM latch_audit_export_cursors WHERE sink = $1",
        [sink],
      );
      return rows[0] === undefined ? 0 : Number(rows[0].seq);
    },
    async set(sink, seq) {
      await pool.query(
        `INSERT INTO latch_audit_export_cursors (sink, seq, updated_at) VALUES ($1, $2, ${STORE_NOW_MS})
         ON CONFLICT (sink) DO UPDATE SET seq = GREATEST(latch_audit_export_cursors.seq, excluded.seq),
           updated_at = excluded.updated_at`,
        [sink, seq],
      );
    },
    async all() {
      const { rows } = await pool.query<{ sink: string; seq: string }>(
        "SELECT sink, seq FROM latch_audit_export_cursors",
      );
      return new Map(rows.map((row) => [row.sink, Number(row.seq)]));
    },
    async claim(sink, leaseMs) {
      const { rowCount } = await pool.query(
        `INSERT INTO latch_audit_export_cursors (sink, seq, updated_at, holder, lease_until)
         VALUES ($1, 0, ${STORE_NOW_MS}, $2, ${STORE_NOW_MS} + $3)
         ON CONFLICT (sink) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
         WHERE latch_audit_export_cursors.holder IS NULL
            OR latch_audit_export_cursors.holder = excluded.holder
            OR latch_audit_export_cursors.lease_until < ${STORE_NOW_MS}`,
        [sink, options.holder, Math.round(leaseMs)],
      );
      return rowCount === 1;
    },
    async release(sink) {
      await pool.query(
        "UPDATE latch_audit_export_cursors SET holder = NULL, lease_until = NULL WHERE sink = $1 AND holder = $2",
        [sink, options.holder],
      );
    },
  };
}
