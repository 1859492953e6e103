import type pg from "pg";
import {
  type McpToolObservation,
  type McpToolPin,
  type McpToolPinRow,
  type McpToolPinStore,
  observationOf,
  pinOfRow,
} from "../mcp-tool-pin-store.js";

const COLUMNS =
  "connection, tool, pinned_hash, pinned_definition, pinned_at, pinned_by, pending_hash, pending_definition, pending_since";
/** Now in epoch ms on the store's clock: one clock for every replica. */
const STORE_NOW_MS = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/**
 * Pinned MCP tool definitions on the PostgreSQL store every replica shares: a tool pinned (or accepted) through
 * one replica is pinned for all. Two replicas seeing a tool first at once: the primary key lets one insert win,
 * and both then judge against the row that won.
 */
export function createPgMcpToolPinStore(pool: pg.Pool): McpToolPinStore {
  return {
    async observe(connection, tool, hash, definition, trust): Promise<McpToolObservation> {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const inserted = await client.query(
          `INSERT INTO latch_mcp_tool_pins (${COLUMNS})
           VALUES ($1, $2, $3, $4, CASE WHEN $3::text IS NULL THEN NULL ELSE ${STORE_NOW_MS} END, $5, $6, $7,
                   CASE WHEN $6::text IS NULL THEN NULL ELSE ${STORE_NOW_MS} END)
           ON CONFLICT (connection, tool) DO NOTHING`,
          [
            connection,
            tool,
            trust ? hash : null,
            trust ? definition : null,
            trust ? "first-use" : null,
            trust ? null : hash,
            trust ? null : definition,
          ],
        );
        const select = `SELECT ${COLUMNS} FROM latch_mcp_tool_pins WHERE connection = $1 AND tool = $2 FOR UPDATE`;
        let row = (await client.query<McpToolPinRow>(select, [connection, tool])).rows[0]!;
        const insertedNow = inserted.rowCount === 1;
        const seen = observationOf(row, hash, insertedNow);
        const stalePending = seen.state === "pinned" && row.pending_hash !== null;
        if (stalePending)
          await client.query(
            "UPDATE latch_mcp_tool_pins SET pending_hash = NULL, pending_definition = NULL, pending_since = NULL WHERE connection = $1 AND tool = $2",
            [connection, tool],
          );
        if (seen.markPending)
          await client.query(
            `UPDATE latch_mcp_tool_pins SET pending_hash = $3, pending_definition = $4, pending_since = ${STORE_NOW_MS} WHERE connection = $1 AND tool = $2`,
            [connection, tool, hash, definition],
          );
        if (stalePending || seen.markPending)
          row = (await client.query<McpToolPinRow>(select, [connection, tool])).rows[0]!;
        await client.query("COMMIT");
        const pin = pinOfRow(row);
        return seen.state === "pinned" || seen.state === "pinned_now"
          ? { state: seen.state, pin }
          : { state: seen.state, pin, fresh: seen.markPending || insertedNow };
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async accept(connection, tool, by): Promise<McpToolPin[]> {
      const { rows } = await pool.query<McpToolPinRow>(
        `UPDATE latch_mcp_tool_pins SET pinned_hash = pending_hash, pinned_definition = pending_definition,
           pinned_at = ${STORE_NOW_MS}, pinned_by = $2, pending_hash = NULL, pending_definition = NULL, pending_since = NULL
         WHERE connection = $1 AND ($3::text IS NULL OR tool = $3) AND pending_hash IS NOT NULL
         RETURNING ${COLUMNS}`,
        [connection, by, tool ?? null],
      );
      return rows.map(pinOfRow).sort((a, b) => (a.tool < b.tool ? -1 : 1));
    },
    async list(connection): Promise<McpToolPin[]> {
      const { rows } = await pool.query<McpToolPinRow>(
        `SELECT ${COLUMNS} FROM latch_mcp_tool_pins WHERE $1::text IS NULL OR connection = $1 ORDER BY connection COLLATE "C", tool COLLATE "C"`,
        [connection ?? null],
      );
      return rows.map(pinOfRow);
    },
  };
}
