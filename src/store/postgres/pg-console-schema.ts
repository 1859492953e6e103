import type { PgMigration } from "./pg-migration.js";

/**
 * Console sign-ins every replica accepts (only a SHA-256 hash of the cookie's id is kept), the delegation
 * chain of an approval request's requester (approvals API, console inbox), and audit export cursors with a
 * per-sink lease so one replica at a time exports each sink (pg-export-cursors.ts).
 */
export const PG_CONSOLE_SCHEMA: PgMigration = {
  name: "console sessions, requester actors, audit export cursors",
  sql: `
CREATE TABLE latch_console_sessions (
  id_hash    text   PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
  identity   jsonb  NOT NULL CHECK (jsonb_typeof(identity) = 'object'),
  expires_at bigint NOT NULL
);
CREATE INDEX latch_console_sessions_by_expiry ON latch_console_sessions (expires_at);
ALTER TABLE latch_approval_requests
  ADD COLUMN requester_actors jsonb CHECK (requester_actors IS NULL OR jsonb_typeof(requester_actors) = 'array');
CREATE TABLE latch_audit_export_cursors (
  sink        text   PRIMARY KEY,
  seq         bigint NOT NULL CHECK (seq >= 0),
  updated_at  bigint NOT NULL,
  holder      text,
  lease_until bigint,
  CHECK ((holder IS NULL) = (lease_until IS NULL))
);
`,
};
