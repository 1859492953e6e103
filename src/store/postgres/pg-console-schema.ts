import type { PgMigration } from "./pg-migration.js";

/**
 * Console sign-ins every replica accepts (only a SHA-256 hash of the cookie's id is kept), and the delegation
 * chain of an approval request's requester, for the approvals API and the console inbox.
 */
export const PG_CONSOLE_SCHEMA: PgMigration = {
  name: "console sessions, requester actors",
  sql: `
CREATE TABLE latch_console_sessions (
  id_hash    text   PRIMARY KEY CHECK (id_hash ~ '^[0-9a-f]{64}$'),
  identity   jsonb  NOT NULL CHECK (jsonb_typeof(identity) = 'object'),
  expires_at bigint NOT NULL
);
CREATE INDEX latch_console_sessions_by_expiry ON latch_console_sessions (expires_at);
ALTER TABLE latch_approval_requests
  ADD COLUMN requester_actors jsonb CHECK (requester_actors IS NULL OR jsonb_typeof(requester_actors) = 'array');
`,
};
