import type pg from "pg";
import type { PendingSignIn, PendingSignInStore } from "../pending-sign-in-store.js";

interface Row {
  kind: "oidc" | "saml";
  provider: string;
  data: Record<string, string>;
  created_at: string;
  expires_at: string;
}

/**
 * Console sign-ins in progress on the PostgreSQL store every replica shares: a sign-in started through one
 * replica finishes through any. `DELETE ... RETURNING` takes the row under its row lock, so of two replicas
 * racing the same callback the second deletes nothing and is refused. Times are the gateway's clock.
 */
export function createPgPendingSignInStore(pool: pg.Pool): PendingSignInStore {
  const sweep = async (now: number) =>
    (await pool.query("DELETE FROM latch_console_pending_sign_ins WHERE expires_at <= $1", [now])).rowCount ??
    0;
  return {
    async save(idHash, pending, max) {
      await sweep(pending.createdAt);
      // The bound is approximate under concurrent saves (each counts before the others commit): it limits a flood,
      // it is not an exact quota.
      const { rowCount } = await pool.query(
        `INSERT INTO latch_console_pending_sign_ins (id_hash, kind, provider, data, created_at, expires_at)
         SELECT $1, $2, $3, $4, $5, $6
         WHERE (SELECT count(*) FROM latch_console_pending_sign_ins WHERE expires_at > $5) < $7`,
        [
          idHash,
          pending.kind,
          pending.provider,
          JSON.stringify(pending.data),
          pending.createdAt,
          pending.expiresAt,
          max,
        ],
      );
      return rowCount === 1;
    },
    async take(idHash, now): Promise<PendingSignIn | "expired" | undefined> {
      const { rows } = await pool.query<Row>(
        `DELETE FROM latch_console_pending_sign_ins WHERE id_hash = $1
         RETURNING kind, provider, data, created_at, expires_at`,
        [idHash],
      );
      const row = rows[0];
      if (row === undefined) return undefined;
      if (Number(row.expires_at) <= now) return "expired";
      return {
        kind: row.kind,
        provider: row.provider,
        data: row.data,
        createdAt: Number(row.created_at),
        expiresAt: Number(row.expires_at),
      };
    },
    sweep,
  };
}
