/**
 * Pinned definitions of the tools of MCP proxy connections (rug-pull protection, docs/mcp.md): the hash of each
 * upstream tool's definition as first seen (or as an administrator accepted it), and the last different one
 * seen since, waiting for an administrator's accept.
 */

export interface McpToolPin {
  readonly connection: string;
  /** The upstream's own tool name. */
  readonly tool: string;
  /** Hex SHA-256 of the accepted definition; null while none was ever accepted (pinning: admin). */
  readonly pinnedHash: string | null;
  /** The accepted definition, canonical JSON; null with pinnedHash. */
  readonly pinnedDefinition: string | null;
  /** ISO-8601 UTC, or null. */
  readonly pinnedAt: string | null;
  /** "first-use" or the administrator who accepted it. */
  readonly pinnedBy: string | null;
  /** A different definition seen since, refused until accepted; null when the upstream matches the pin. */
  readonly pendingHash: string | null;
  readonly pendingDefinition: string | null;
  /** ISO-8601 UTC, or null. */
  readonly pendingSince: string | null;
}

/** What `observe` found. */
export type McpToolObservation =
  /** Seen for the first time and pinned now (pinning: first_use). */
  | { readonly state: "pinned_now"; readonly pin: McpToolPin }
  /** Matches the pin. */
  | { readonly state: "pinned"; readonly pin: McpToolPin }
  /** Differs from the pin (or nothing was accepted yet); `fresh` when this definition was not pending before. */
  | { readonly state: "changed" | "unaccepted"; readonly pin: McpToolPin; readonly fresh: boolean };

/** Every method returns a Promise and rejects on a store failure (the proxy then refuses the tool). */
export interface McpToolPinStore {
  /**
   * Compares what an upstream offers with the pin. Unknown tool: pinned at once when `trustOnFirstUse`, else
   * recorded as pending. Known: same hash, "pinned"; other hash, recorded as pending ("changed").
   */
  observe(
    connection: string,
    tool: string,
    hash: string,
    definition: string,
    trustOnFirstUse: boolean,
  ): Promise<McpToolObservation>;
  /** Pins the pending definitions of a connection's tools (or of one tool); resolves the pins it changed. */
  accept(connection: string, tool: string | undefined, by: string): Promise<McpToolPin[]>;
  /** By connection and tool name. */
  list(connection?: string): Promise<McpToolPin[]>;
}

/** One row as both implementations store it (epoch ms), turned into the interface's shape. */
export interface McpToolPinRow {
  connection: string;
  tool: string;
  pinned_hash: string | null;
  pinned_definition: string | null;
  pinned_at: number | string | null;
  pinned_by: string | null;
  pending_hash: string | null;
  pending_definition: string | null;
  pending_since: number | string | null;
}

export function pinOfRow(row: McpToolPinRow): McpToolPin {
  const time = (value: number | string | null) =>
    value === null ? null : new Date(Number(value)).toISOString();
  return {
    connection: row.connection,
    tool: row.tool,
    pinnedHash: row.pinned_hash,
    pinnedDefinition: row.pinned_definition,
    pinnedAt: time(row.pinned_at),
    pinnedBy: row.pinned_by,
    pendingHash: row.pending_hash,
    pendingDefinition: row.pending_definition,
    pendingSince: time(row.pending_since),
  };
}

/** The decision `observe` makes from the row as it is after the insert-if-absent. Shared by both stores. */
export function observationOf(
  row: McpToolPinRow,
  hash: string,
  insertedNow: boolean,
): { readonly state: McpToolObservation["state"]; readonly markPending: boolean } {
  if (row.pinned_hash === hash) return { state: insertedNow ? "pinned_now" : "pinned", markPending: false };
  return {
    state: row.pinned_hash === null ? "unaccepted" : "changed",
    markPending: row.pending_hash !== hash,
  };
}
