import type pg from "pg";
import { canonicalJson } from "../../audit/canonical-json.js";
import { type ChainHead, EMPTY_CHAIN_HEAD } from "../../audit/verify-chain.js";
import { LatchError } from "../../errors.js";
import type { AuditEventInput, AuditHealth, AuditSink } from "../store.js";

/**
 * The audit write side on PostgreSQL: each append is one round trip (`SELECT * FROM latch_append(...)`, see
 * pg-audit-schema.ts) that chains the group into the one global chain every replica shares. The append resolves
 * once PostgreSQL committed it (synchronous_commit as the server is configured): durable and readable by every
 * replica. A failure rejects; the batcher then denies the group's operations, and the next append simply tries
 * again, so the sink recovers on its own when the store comes back.
 */
export function createPgAuditSink(
  pool: pg.Pool,
  headAtOpen: ChainHead,
): AuditSink & { health(): AuditHealth; close(): Promise<void> } {
  // Other replicas move the shared head too: this is the head as of this replica's last append.
  let head: ChainHead = headAtOpen;
  const inFlight = new Set<Promise<void>>();
  let refusingSince: number | undefined;
  let refusalReason: string | undefined;
  let refusedMs = 0;
  const refused = (cause: unknown) => {
    refusingSince ??= Date.now();
    refusalReason = pgFailureReason(cause);
  };
  const accepted = () => {
    if (refusingSince !== undefined) refusedMs += Date.now() - refusingSince;
    refusingSince = undefined;
    refusalReason = undefined;
  };

  const write = async (events: readonly AuditEventInput[]): Promise<void> => {
    // Serialised before any round trip: a body that cannot be represented rejects the group, nothing is sent.
    const data = events.map((event) => canonicalJson(event.data));
    try {
      // Named: prepared once per connection (one per group commit; bench/store-driver.ts: +20% appends/s).
      const result = await pool.query<{ head_seq: string; head_hash: string }>({
        name: "latch_append",
        text: "SELECT head_seq, head_hash FROM latch_append($1, $2, $3, $4)",
        values: [new Date().toISOString(), events.map((e) => e.kind), events.map((e) => e.sessionId), data],
      });
      const row = result.rows[0]!;
      head = { seq: Number(row.head_seq), hash: row.head_hash };
      accepted();
    } catch (cause) {
      refused(cause);
      throw new LatchError("audit_unavailable", {}, { cause });
    }
  };

  return {
    append(events) {
      if (events.length === 0) return Promise.resolve();
      const written = write(events);
      inFlight.add(written);
      void written.then(
        () => inFlight.delete(written),
        () => inFlight.delete(written),
      );
      return written;
    },
    head: () => head,
    health(): AuditHealth {
      const current = refusingSince === undefined ? 0 : Date.now() - refusingSince;
      const refusedSeconds = (refusedMs + current) / 1000;
      if (refusingSince === undefined) return { state: "ok", refusedSeconds };
      return {
        state: "refusing",
        since: new Date(refusingSince).toISOString(),
        reason: refusalReason ?? "the store refused the write",
        refusedSeconds,
      };
    },
    async flush() {
      // Committed is readable: only appends still on their way need waiting for.
      await Promise.allSettled([...inFlight]);
    },
    async check() {
      try {
        await pool.query("UPDATE latch_health_check SET checked_at = now() WHERE id = 1");
        accepted(); // a write went through: with no traffic, /healthz would otherwise stay "refusing"
      } catch (cause) {
        refused(cause);
        throw new LatchError("audit_unavailable", {}, { cause });
      }
    },
    async close() {
      await Promise.allSettled([...inFlight]);
    },
  };
}

/** The head as the store holds it now (for gateway_start and tests). */
export async function readPgChainHead(pool: pg.Pool): Promise<ChainHead> {
  const { rows } = await pool.query<{ seq: string; hash: string }>(
    "SELECT seq, hash FROM latch_chain_head WHERE id = 1",
  );
  const row = rows[0];
  return row === undefined ? EMPTY_CHAIN_HEAD : { seq: Number(row.seq), hash: row.hash };
}

/** A short cause without secrets: pg's SQLSTATE or socket error code, never a connection string. */
function pgFailureReason(cause: unknown): string {
  const code = (cause as { code?: unknown }).code;
  if (typeof code === "string") {
    if (/^[0-9A-Z]{5}$/.test(code)) return `the store refused the write (SQLSTATE ${code})`;
    return `the store is unreachable (${code})`;
  }
  return "the store is unreachable";
}
