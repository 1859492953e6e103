import type { PgMigration } from "./pg-migration.js";

/** MCP proxy connections: each upstream tool's pinned definition, and a changed one awaiting an admin's accept. */
export const PG_MCP_PIN_SCHEMA: PgMigration = {
  name: "mcp tool pins",
  sql: `
CREATE TABLE latch_mcp_tool_pins (
  connection         text   NOT NULL,
  tool               text   NOT NULL,
  pinned_hash        text,
  pinned_definition  text,
  pinned_at          bigint,
  pinned_by          text,
  pending_hash       text,
  pending_definition text,
  pending_since      bigint,
  PRIMARY KEY (connection, tool)
);
`,
};
