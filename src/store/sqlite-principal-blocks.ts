import { openSqliteSideConnection } from "./sqlite-side-connection.js";

export interface PrincipalBlock {
  readonly principal: string;
  readonly blockedBy: string;
  readonly reason: string;
  /** ISO-8601 UTC. */
  readonly blockedAt: string;
}

export interface PrincipalBlockStore {
  /** Hot path (every login): one primary-key lookup. */
  isBlocked(principal: string): boolean;
  /** Returns false when the principal was already blocked (the first block's record is kept). */
  block(principal: string, blockedBy: string, reason: string): boolean;
  /** Returns false when the principal was not blocked. */
  unblock(principal: string): boolean;
  list(): PrincipalBlock[];
  close(): void;
}

/** Blocked principals in the gateway's SQLite file, through a connection of its own (like approvals). */
export function createSqlitePrincipalBlockStore(file: string): PrincipalBlockStore {
  const opened = openSqliteSideConnection(file, "principal store");
  const select = opened.prepare("SELECT 1 FROM principal_blocks WHERE principal = ?");
  const insert = opened.prepare(
    "INSERT INTO principal_blocks (principal, blocked_by, reason, blocked_at) VALUES (?, ?, ?, ?) ON CONFLICT (principal) DO NOTHING",
  );
  const remove = opened.prepare("DELETE FROM principal_blocks WHERE principal = ?");
  const all = opened.prepare(
    "SELECT principal, blocked_by, reason, blocked_at FROM principal_blocks ORDER BY blocked_at DESC, principal",
  );
  return {
    isBlocked: (principal) => select.get(principal) !== undefined,
    block: (principal, blockedBy, reason) =>
      insert.run(principal, blockedBy, reason, Date.now()).changes === 1,
    unblock: (principal) => remove.run(principal).changes === 1,
    list: () =>
      (all.all() as { principal: string; blocked_by: string; reason: string; blocked_at: number }[]).map(
        (row) => ({
          principal: row.principal,
          blockedBy: row.blocked_by,
          reason: row.reason,
          blockedAt: new Date(row.blocked_at).toISOString(),
        }),
      ),
    close: () => opened.close(),
  };
}
