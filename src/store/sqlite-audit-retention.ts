import type { AuditRetention, PrunePlan } from "./audit-retention.js";
import { guardSideStore, openSqliteSideConnection } from "./sqlite-side-connection.js";

export interface SqliteAuditRetention extends AuditRetention {
  close(): void;
}

/**
 * Retention in the gateway's SQLite file, through a connection of its own. The delete trigger of migration 7
 * lets events go only up to `audit_retention.pruned_through`, which moves in the same transaction.
 */
export function createSqliteAuditRetention(file: string): SqliteAuditRetention {
  const db = openSqliteSideConnection(file, "audit retention");
  const pruned = db.prepare("SELECT pruned_through FROM audit_retention WHERE id = 1").pluck();
  // Checkpoints newest first whose signed event is old enough and delivered to every sink.
  const candidates = db.prepare(
    `SELECT c.seq AS anchorSeq, s.seq AS through, s.hash AS anchorHash, s.ts AS throughTs
       FROM audit_events c
       JOIN audit_events s ON s.seq = json_extract(c.data, '$.seq') AND s.hash = json_extract(c.data, '$.head')
      WHERE c.kind = 'audit_checkpoint' AND s.seq <= ? AND s.ts < ? AND s.seq > ?
      ORDER BY c.seq DESC LIMIT 1`,
  );
  const oldest = db.prepare("SELECT min(seq) FROM audit_events").pluck();
  const advance = db.prepare(
    "UPDATE audit_retention SET pruned_through = ?, anchor_hash = ?, anchor_seq = ? WHERE id = 1",
  );
  const dropSessions = db.prepare(
    "DELETE FROM sessions WHERE id IN (SELECT session_id FROM audit_events WHERE kind = 'session_start' AND seq <= ?)",
  );
  const dropEvents = db.prepare("DELETE FROM audit_events WHERE seq <= ?");
  const pruneNow = db.transaction((plan: PrunePlan): number => {
    advance.run(plan.through, plan.anchorHash, plan.anchorSeq);
    dropSessions.run(plan.through);
    return dropEvents.run(plan.through).changes;
  });
  return guardSideStore<SqliteAuditRetention>(file, {
    async plan(before, maxSeq) {
      const already = pruned.get() as number;
      const found = candidates.get(maxSeq, before, already) as Omit<PrunePlan, "events"> | undefined;
      if (found === undefined) return undefined;
      const first = (oldest.get() as number | null) ?? found.through + 1;
      return { ...found, events: Math.max(0, found.through - first + 1) };
    },
    prune: async (plan) => pruneNow.immediate(plan),
    close: () => db.close(),
  });
}
