import type { PgMigration } from "./pg-migration.js";

/**
 * Cross-replica events (pg-cluster-events.ts): each is a row, announced with NOTIFY. The row is what makes a
 * notification that was missed (a listener reconnecting) recoverable: the receiver reads every row after the
 * last one it saw. Rows are pruned after an hour; they are signals, the store's other tables the truth.
 */
export const PG_CLUSTER_SCHEMA: PgMigration = {
  name: "cluster events",
  sql: `
CREATE TABLE latch_cluster_events (
  id     bigserial   PRIMARY KEY,
  at     timestamptz NOT NULL DEFAULT now(),
  origin text        NOT NULL,
  kind   text        NOT NULL,
  body   jsonb       NOT NULL
);
CREATE INDEX latch_cluster_events_by_time ON latch_cluster_events (at);
`,
};
