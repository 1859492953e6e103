import type { PendingSignIn, PendingSignInStore } from "./pending-sign-in-store.js";
import { guardSideStore, openSqliteSideConnection } from "./sqlite-side-connection.js";

export interface SqlitePendingSignInStore extends PendingSignInStore {
  close(): void;
}

interface Row {
  kind: "oidc" | "saml";
  provider: string;
  data: string;
  created_at: number;
  expires_at: number;
}

/**
 * Console sign-ins in progress in the gateway's SQLite file, through a connection of its own. SQLite runs one
 * statement at a time, so `DELETE ... RETURNING` is the whole take: a second take of the same id finds nothing.
 */
export function createSqlitePendingSignInStore(file: string): SqlitePendingSignInStore {
  const opened = openSqliteSideConnection(file, "pending console sign-in store");
  const sweep = opened.prepare("DELETE FROM console_pending_sign_ins WHERE expires_at <= ?");
  // The bound and the insert in one statement, so concurrent saves cannot both pass the count.
  const insert = opened.prepare(
    `INSERT INTO console_pending_sign_ins (id_hash, kind, provider, data, created_at, expires_at)
     SELECT ?, ?, ?, ?, ?, ? WHERE (SELECT count(*) FROM console_pending_sign_ins WHERE expires_at > ?) < ?`,
  );
  const take = opened.prepare(
    "DELETE FROM console_pending_sign_ins WHERE id_hash = ? RETURNING kind, provider, data, created_at, expires_at",
  );
  return guardSideStore<SqlitePendingSignInStore>(file, {
    save: async (idHash, pending, max) => {
      sweep.run(pending.createdAt);
      return (
        insert.run(
          idHash,
          pending.kind,
          pending.provider,
          JSON.stringify(pending.data),
          pending.createdAt,
          pending.expiresAt,
          pending.createdAt,
          max,
        ).changes === 1
      );
    },
    take: async (idHash, now): Promise<PendingSignIn | "expired" | undefined> => {
      const row = take.get(idHash) as Row | undefined;
      if (row === undefined) return undefined;
      if (row.expires_at <= now) return "expired";
      return {
        kind: row.kind,
        provider: row.provider,
        data: JSON.parse(row.data),
        createdAt: row.created_at,
        expiresAt: row.expires_at,
      };
    },
    sweep: async (now) => sweep.run(now).changes,
    close: () => opened.close(),
  });
}
