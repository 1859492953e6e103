import type pg from "pg";
import type { ConsoleSessionStore, ConsoleSignIn } from "../console-session-store.js";

/**
 * Console sign-ins on the PostgreSQL store every replica shares: a sign-in made through one replica is accepted
 * by all of them, and a sign-out through any ends it everywhere at once. Times are the gateway's clock (the
 * cookie's Max-Age is too); expired rows are swept at each sign-in.
 */
export function createPgConsoleSessionStore(pool: pg.Pool): ConsoleSessionStore {
  return {
    async save(idHash, signIn) {
      await pool.query(
        `INSERT INTO latch_console_sessions (id_hash, identity, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (id_hash) DO UPDATE SET identity = excluded.identity, expires_at = excluded.expires_at`,
        [idHash, JSON.stringify(signIn.identity), signIn.expiresAt],
      );
    },
    async find(idHash, now): Promise<ConsoleSignIn | undefined> {
      const { rows } = await pool.query<{ identity: ConsoleSignIn["identity"]; expires_at: string }>({
        name: "latch_console_session",
        text: "SELECT identity, expires_at FROM latch_console_sessions WHERE id_hash = $1 AND expires_at > $2",
        values: [idHash, now],
      });
      const row = rows[0];
      return row === undefined ? undefined : { identity: row.identity, expiresAt: Number(row.expires_at) };
    },
    async remove(idHash) {
      await pool.query("DELETE FROM latch_console_sessions WHERE id_hash = $1", [idHash]);
    },
    async sweep(now) {
      return (
        (await pool.query("DELETE FROM latch_console_sessions WHERE expires_at <= $1", [now])).rowCount ?? 0
      );
    },
  };
}
