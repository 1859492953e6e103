import type pg from "pg";
import type { AuditRetention, PrunePlan } from "../audit-retention.js";

/** One key for every replica: two replicas pruning at once take turns (the second finds nothing left to do). */
const PRUNE_LOCK_KEY = 0x4c41_5452; // "LATR"

/**
 * Retention on the PostgreSQL store replicas share. The delete trigger of the retention migration lets events
 * go only up to `latch_audit_retention.pruned_through`, which moves in the same transaction, under an advisory
 * lock so that replicas never prune over each other.
 */
export function createPgAuditRetention(pool: pg.Pool): AuditRetention {
  return {
    async plan(before, maxSeq) {
      const { rows } = await pool.query<{
        anchorSeq: string;
        through: string;
        anchorHash: string;
        throughTs: string;
        first: string | null;
      }>(
        `SELECT c.seq AS "anchorSeq", s.seq AS through, s.hash AS "anchorHash", s.ts AS "throughTs",
                (SELECT min(seq) FROM latch_audit_events) AS first
           FROM latch_audit_events c
           JOIN latch_audit_events s
             ON s.seq = (c.data::jsonb ->> 'seq')::bigint AND s.hash = c.data::jsonb ->> 'head'
          WHERE c.kind = 'audit_checkpoint' AND s.seq <= $1 AND s.ts < $2
            AND s.seq > (SELECT pruned_through FROM latch_audit_retention WHERE id = 1)
          ORDER BY c.seq DESC LIMIT 1`,
        [maxSeq, before],
      );
      const found = rows[0];
      if (found === undefined) return undefined;
      const through = Number(found.through);
      const first = found.first === null ? through + 1 : Number(found.first);
      return {
        through,
        anchorHash: found.anchorHash,
        anchorSeq: Number(found.anchorSeq),
        throughTs: found.throughTs,
        events: Math.max(0, through - first + 1),
      };
    },
    async prune(plan: PrunePlan) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        try {
          await client.query("SELECT pg_advisory_xact_lock($1)", [PRUNE_LOCK_KEY]);
          const moved = await client.query(
            `UPDATE latch_audit_retention SET pruned_through = $1, anchor_hash = $2, anchor_seq = $3
              WHERE id = 1 AND pruned_through < $1`,
            [plan.through, plan.anchorHash, plan.anchorSeq],
          );
          if (moved.rowCount !== 1) {
            await client.query("ROLLBACK");
            return 0; // another replica pruned this far already
          }
          await client.query(
            `DELETE FROM latch_sessions WHERE id IN (
               SELECT session_id FROM latch_audit_events WHERE kind = 'session_start' AND seq <= $1)`,
            [plan.through],
          );
          const deleted = await client.query("DELETE FROM latch_audit_events WHERE seq <= $1", [
            plan.through,
          ]);
          await client.query("COMMIT");
          return deleted.rowCount ?? 0;
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw error;
        }
      } finally {
        client.release();
      }
    },
  };
}
