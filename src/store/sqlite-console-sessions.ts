import type { ConsoleSessionStore, ConsoleSignIn } from "./console-session-store.js";
import { guardSideStore, openSqliteSideConnection } from "./sqlite-side-connection.js";

export interface SqliteConsoleSessionStore extends ConsoleSessionStore {
  close(): void;
}

/** Console sign-ins in the gateway's SQLite file, through a connection of its own (like blocks). */
export function createSqliteConsoleSessionStore(file: string): SqliteConsoleSessionStore {
  const opened = openSqliteSideConnection(file, "console session store");
  const insert = opened.prepare(
    "INSERT INTO console_sessions (id_hash, identity, expires_at) VALUES (?, ?, ?) ON CONFLICT (id_hash) DO UPDATE SET identity = excluded.identity, expires_at = excluded.expires_at",
  );
  const select = opened.prepare(
    "SELECT identity, expires_at FROM console_sessions WHERE id_hash = ? AND expires_at > ?",
  );
  const remove = opened.prepare("DELETE FROM console_sessions WHERE id_hash = ?");
  const sweep = opened.prepare("DELETE FROM console_sessions WHERE expires_at <= ?");
  return guardSideStore<SqliteConsoleSessionStore>(file, {
    save: async (idHash, signIn) => {
      insert.run(idHash, JSON.stringify(signIn.identity), signIn.expiresAt);
    },
    find: async (idHash, now): Promise<ConsoleSignIn | undefined> => {
      const row = select.get(idHash, now) as { identity: string; expires_at: number } | undefined;
      return row === undefined
        ? undefined
        : { identity: JSON.parse(row.identity), expiresAt: row.expires_at };
    },
    remove: async (idHash) => {
      remove.run(idHash);
    },
    sweep: async (now) => sweep.run(now).changes,
    close: () => opened.close(),
  });
}
