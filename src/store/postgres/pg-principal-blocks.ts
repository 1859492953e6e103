import type pg from "pg";
import type { PrincipalBlock, PrincipalBlockStore } from "../principal-block-store.js";

interface BlockRow {
  principal: string;
  blocked_by: string;
  reason: string;
  /** bigint epoch ms, a string from pg. */
  blocked_at: string;
}

/** Now in epoch ms on the store's clock: one clock for every replica, so "newest first" means one thing. */
const STORE_NOW_MS = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

/**
 * Blocked principals on the PostgreSQL store every replica shares: a block made on one replica refuses the
 * principal's next login on all of them. Two replicas blocking at once: the primary key lets one insert win,
 * the other resolves false and the first block's record is kept.
 */
export function createPgPrincipalBlockStore(pool: pg.Pool): PrincipalBlockStore {
  return {
    async isBlocked(principal) {
      // Named: prepared once per connection (every login asks; bench/store-driver.ts: +35-59% lookups/s).
      const { rowCount } = await pool.query({
        name: "latch_is_blocked",
        text: "SELECT 1 FROM latch_principal_blocks WHERE principal = $1",
        values: [principal],
      });
      return rowCount === 1;
    },
    async block(principal, blockedBy, reason) {
      const { rowCount } = await pool.query(
        `INSERT INTO latch_principal_blocks (principal, blocked_by, reason, blocked_at)
         VALUES ($1, $2, $3, ${STORE_NOW_MS}) ON CONFLICT (principal) DO NOTHING`,
        [principal, blockedBy, reason],
      );
      return rowCount === 1;
    },
    async unblock(principal) {
      const { rowCount } = await pool.query("DELETE FROM latch_principal_blocks WHERE principal = $1", [
        principal,
      ]);
      return rowCount === 1;
    },
    async list(): Promise<PrincipalBlock[]> {
      const { rows } = await pool.query<BlockRow>(
        "SELECT principal, blocked_by, reason, blocked_at FROM latch_principal_blocks ORDER BY blocked_at DESC, principal",
      );
      return rows.map((row) => ({
        principal: row.principal,
        blockedBy: row.blocked_by,
        reason: row.reason,
        blockedAt: new Date(Number(row.blocked_at)).toISOString(),
      }));
    },
  };
}
