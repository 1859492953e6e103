import type { PrincipalBlock, PrincipalBlockStore } from "./principal-block-store.js";
import { guardSideStore, openSqliteSideConnection } from "./sqlite-side-connection.js";

export interface SqlitePrincipalBlockStore extends PrincipalBlockStore {
  close(): void;
}

/** Blocked principals in the gateway's SQLite file, through a connection of its own (like approvals). */
export function createSqlitePrincipalBlockStore(file: string): SqlitePrincipalBlockStore {
  const opened = openSqliteSideConnection(file, "principal store");
  const select = opened.prepare("SELECT 1 FROM principal_blocks WHERE principal = ?");
  const insert = opened.prepare(
    "INSERT INTO principal_blocks (principal, blocked_by, reason, blocked_at) VALUES (?, ?, ?, ?) ON CONFLICT (principal) DO NOTHING",
  );
  const remove = opened.prepare("DELETE FROM principal_blocks WHERE principal = ?");
  const all = opened.prepare(
    "SELECT principal, blocked_by, reason, blocked_at FROM principal_blocks ORDER BY blocked_at DESC, principal",
  );
  return guardSideStore<SqlitePrincipalBlockStore>(file, {
    isBlocked: async (principal) => select.get(principal) !== undefined,
    block: async (principal, blockedBy, reason) =>
      insert.run(principal, blockedBy, reason, Date.now()).changes === 1,
    unblock: async (principal) => remove.run(principal).changes === 1,
    list: async (): Promise<PrincipalBlock[]> =>
      (all.all() as { principal: string; blocked_by: string; reason: string; blocked_at: number }[]).map(
        (row) => ({
          principal: row.principal,
          blockedBy: row.blocked_by,
          reason: row.reason,
          blockedAt: new Date(row.blocked_at).toISOString(),
        }),
      ),
    close: () => opened.close(),
  });
}
