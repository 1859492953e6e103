import type { PgMigration } from "./pg-migration.js";

/**
 * Retention on the shared store (audit.retention): events up to `pruned_through` may be deleted, no others,
 * and `pruned_through` only moves forward; the kept checkpoint `anchor_seq` signs (pruned_through, anchor_hash).
 * Updates stay refused; deletes beyond the pruned prefix too.
 */
export const PG_RETENTION_SCHEMA: PgMigration = {
  name: "audit retention",
  sql: `
CREATE TABLE latch_audit_retention (
  id             integer PRIMARY KEY CHECK (id = 1),
  pruned_through bigint  NOT NULL,
  anchor_hash    text    NOT NULL,
  anchor_seq     bigint  NOT NULL
);
INSERT INTO latch_audit_retention (id, pruned_through, anchor_hash, anchor_seq) VALUES (1, 0, repeat('0', 64), 0);
CREATE TRIGGER latch_audit_retention_forward_only BEFORE UPDATE ON latch_audit_retention
  FOR EACH ROW WHEN (NEW.pruned_through < OLD.pruned_through) EXECUTE FUNCTION latch_refuse_change();
CREATE TRIGGER latch_audit_retention_no_delete BEFORE DELETE ON latch_audit_retention
  FOR EACH ROW EXECUTE FUNCTION latch_refuse_change();
DROP TRIGGER latch_audit_events_append_only ON latch_audit_events;
CREATE TRIGGER latch_audit_events_no_update BEFORE UPDATE ON latch_audit_events
  FOR EACH ROW EXECUTE FUNCTION latch_refuse_change();
CREATE FUNCTION latch_refuse_unanchored_delete() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF OLD.seq > (SELECT pruned_through FROM latch_audit_retention WHERE id = 1) THEN
    RAISE EXCEPTION 'latch: DELETE on latch_audit_events is refused: the audit log is append-only (retention deletes only anchored events)';
  END IF;
  RETURN OLD;
END
$fn$;
CREATE TRIGGER latch_audit_events_no_delete BEFORE DELETE ON latch_audit_events
  FOR EACH ROW EXECUTE FUNCTION latch_refuse_unanchored_delete();
CREATE INDEX latch_audit_events_checkpoints ON latch_audit_events (seq) WHERE kind = 'audit_checkpoint';
`,
};
