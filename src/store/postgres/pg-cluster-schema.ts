import type { PgMigration } from "./pg-migration.js";

/**
 * Cross-replica events (pg-cluster-events.ts): each is a row, announced with NOTIFY. The row is what makes a
 * notification that was missed (a listener reconnecting) recoverable: the receiver reads every row after the
 * last one it saw. Rows are pruned after an hour; they are signals, the store's other tables the truth.
 */
export const PG_CLUSTER_SCHEMA: PgMigration = {
  name: "cluster events, gateway heartbeats",
  sql: `
CREATE TABLE latch_cluster_events (
  id     bigserial   PRIMARY KEY,
  at     timestamptz NOT NULL DEFAULT now(),
  origin text        NOT NULL,
  kind   text        NOT NULL,
  body   jsonb       NOT NULL
);
CREATE INDEX latch_cluster_events_by_time ON latch_cluster_events (at);

-- Every gateway's last heartbeat: survivors tell from it which replica is gone (its sessions, its roles).
CREATE TABLE latch_gateways (
  id        text   PRIMARY KEY,
  last_seen bigint NOT NULL
);

-- Each live session's last traffic, reported with its gateway's heartbeat (NULL: none reported yet).
ALTER TABLE latch_live_sessions ADD COLUMN last_activity bigint;
`,
};
