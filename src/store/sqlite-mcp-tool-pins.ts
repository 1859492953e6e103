import {
  type McpToolObservation,
  type McpToolPin,
  type McpToolPinRow,
  type McpToolPinStore,
  observationOf,
  pinOfRow,
} from "./mcp-tool-pin-store.js";
import { guardSideStore, openSqliteSideConnection } from "./sqlite-side-connection.js";

export interface SqliteMcpToolPinStore extends McpToolPinStore {
  close(): void;
}

const COLUMNS =
  "connection, tool, pinned_hash, pinned_definition, pinned_at, pinned_by, pending_hash, pending_definition, pending_since";

/** Pinned MCP tool definitions in the gateway's SQLite file, through a connection of its own. */
export function createSqliteMcpToolPinStore(file: string): SqliteMcpToolPinStore {
  const db = openSqliteSideConnection(file, "MCP tool pin store");
  const insert = db.prepare(
    `INSERT INTO mcp_tool_pins (${COLUMNS}) VALUES (@connection, @tool, @pinned_hash, @pinned_definition, @pinned_at, @pinned_by, @pending_hash, @pending_definition, @pending_since) ON CONFLICT (connection, tool) DO NOTHING`,
  );
  const one = db.prepare(`SELECT ${COLUMNS} FROM mcp_tool_pins WHERE connection = ? AND tool = ?`);
  const markPending = db.prepare(
    "UPDATE mcp_tool_pins SET pending_hash = ?, pending_definition = ?, pending_since = ? WHERE connection = ? AND tool = ?",
  );
  const clearPending = db.prepare(
    "UPDATE mcp_tool_pins SET pending_hash = NULL, pending_definition = NULL, pending_since = NULL WHERE connection = ? AND tool = ?",
  );
  const acceptOne = db.prepare(
    `UPDATE mcp_tool_pins SET pinned_hash = pending_hash, pinned_definition = pending_definition, pinned_at = ?, pinned_by = ?,
       pending_hash = NULL, pending_definition = NULL, pending_since = NULL
     WHERE connection = ? AND tool = ? AND pending_hash IS NOT NULL RETURNING ${COLUMNS}`,
  );
  const acceptAll = db.prepare(
    `UPDATE mcp_tool_pins SET pinned_hash = pending_hash, pinned_definition = pending_definition, pinned_at = ?, pinned_by = ?,
       pending_hash = NULL, pending_definition = NULL, pending_since = NULL
     WHERE connection = ? AND pending_hash IS NOT NULL RETURNING ${COLUMNS}`,
  );
  const all = db.prepare(`SELECT ${COLUMNS} FROM mcp_tool_pins ORDER BY connection, tool`);
  const ofConnection = db.prepare(`SELECT ${COLUMNS} FROM mcp_tool_pins WHERE connection = ? ORDER BY tool`);

  const observe = db.transaction(
    (connection: string, tool: string, hash: string, definition: string, trust: boolean) => {
      const now = Date.now();
      const inserted =
        insert.run({
          connection,
          tool,
          pinned_hash: trust ? hash : null,
          pinned_definition: trust ? definition : null,
          pinned_at: trust ? now : null,
          pinned_by: trust ? "first-use" : null,
          pending_hash: trust ? null : hash,
          pending_definition: trust ? null : definition,
          pending_since: trust ? null : now,
        }).changes === 1;
      let row = one.get(connection, tool) as McpToolPinRow;
      const seen = observationOf(row, hash, inserted);
      if (seen.state === "pinned" && row.pending_hash !== null) clearPending.run(connection, tool);
      if (seen.markPending) markPending.run(hash, definition, now, connection, tool);
      if (seen.markPending || (seen.state === "pinned" && row.pending_hash !== null))
        row = one.get(connection, tool) as McpToolPinRow;
      const pin = pinOfRow(row);
      return seen.state === "pinned" || seen.state === "pinned_now"
        ? ({ state: seen.state, pin } as McpToolObservation)
        : ({ state: seen.state, pin, fresh: seen.markPending || inserted } as McpToolObservation);
    },
  );

  return guardSideStore<SqliteMcpToolPinStore>(file, {
    observe: async (connection, tool, hash, definition, trust) =>
      observe.immediate(connection, tool, hash, definition, trust),
    accept: async (connection, tool, by): Promise<McpToolPin[]> => {
      const rows = (
        tool === undefined
          ? acceptAll.all(Date.now(), by, connection)
          : acceptOne.all(Date.now(), by, connection, tool)
      ) as McpToolPinRow[];
      return rows.map(pinOfRow).sort((a, b) => (a.tool < b.tool ? -1 : 1));
    },
    list: async (connection) =>
      ((connection === undefined ? all.all() : ofConnection.all(connection)) as McpToolPinRow[]).map(
        pinOfRow,
      ),
    close: () => db.close(),
  });
}
