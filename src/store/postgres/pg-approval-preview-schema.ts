import type { PgMigration } from "./pg-migration.js";

/** The rolled-back preview an approval request shows its approvers (docs/approvals.md); null when none ran. */
export const PG_APPROVAL_PREVIEW_SCHEMA: PgMigration = {
  name: "approval request previews",
  sql: "ALTER TABLE latch_approval_requests ADD COLUMN preview jsonb;",
};
