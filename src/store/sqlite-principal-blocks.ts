import Database from "better-sqlite3";
import { LatchError } from "../errors.js";
import { migrateSqliteStore } from "./sqlite-migrations.js";

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
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma("busy_timeout = 5000");
    migrateSqliteStore(db, file);
  } catch (cause) {
    db?.close();
    throw cause instanceof LatchError
      ? cause
      : new LatchError(
          "config_invalid",
          { detail: `cannot open principal store ${file}: ${(cause as Error).message}` },
          { cause },
        );
  }
  const opened = db;
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
