import type pg from "pg";
import { type IndexedSession, SessionIndexRebuild } from "../../audit/session-index.js";
import {
  type ChainHead,
  type ChainVerificationReport,
  ChainVerifier,
  type StoreProblem,
  withStoreProblems,
} from "../../audit/verify-chain.js";
import { type AnchorRow, anchorProblem, type RetentionRow, readPruned } from "../pruned-prefix.js";
import type {
  AuditEvent,
  AuditEventKind,
  AuditFilter,
  AuditReader,
  SessionFilter,
  SessionSummary,
} from "../store.js";
import { pageSize } from "../store.js";

interface EventRow {
  seq: string;
  ts: string;
  kind: string;
  session_id: string | null;
  data: string;
  prev_hash: string;
  hash: string;
}

interface SessionRow {
  id: string;
  protocol: string;
  connection: string;
  subject: string;
  groups: string[];
  client_address: string;
  started_at: string;
  ended_at: string | null;
  end_reason: string | null;
  operations: string;
  denied: string;
}

const EVENT_COLUMNS = "e.seq, e.ts, e.kind, e.session_id, e.data, e.prev_hash, e.hash";
/** Rows per FETCH while verifying: bounded memory, few round trips. */
const VERIFY_CHUNK = 5000;

/**
 * The read side of the PostgreSQL store. Every replica reads the same tables, so a session or event written by
 * any replica is visible to all as soon as its append committed. Filters are bound parameters.
 */
export function createPgAuditReader(pool: pg.Pool): AuditReader {
  let verifying: Promise<ChainVerificationReport> | undefined;
  return {
    async listSessions(filter: SessionFilter = {}): Promise<SessionSummary[]> {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.subject !== undefined) where.push(`subject = $${params.push(filter.subject)}`);
      if (filter.connection !== undefined) where.push(`connection = $${params.push(filter.connection)}`);
      if (filter.active !== undefined)
        where.push(filter.active ? "ended_at IS NULL" : "ended_at IS NOT NULL");
      const limit = `$${params.push(pageSize(filter.limit))}`;
      const { rows } = await pool.query<SessionRow>(
        `SELECT * FROM latch_sessions${whereClause(where)} ORDER BY started_at DESC, id DESC LIMIT ${limit}`,
        params,
      );
      return rows.map(toSessionSummary);
    },

    async getSession(id: string): Promise<SessionSummary | undefined> {
      const { rows } = await pool.query<SessionRow>("SELECT * FROM latch_sessions WHERE id = $1", [id]);
      return rows[0] === undefined ? undefined : toSessionSummary(rows[0]);
    },

    async events(filter: AuditFilter = {}): Promise<AuditEvent[]> {
      const where: string[] = [];
      const params: unknown[] = [];
      let join = "";
      if (filter.afterSeq !== undefined) where.push(`e.seq > $${params.push(filter.afterSeq)}`);
      if (filter.sessionId !== undefined) where.push(`e.session_id = $${params.push(filter.sessionId)}`);
      if (filter.kind === "operation_result")
        // Also the operations that carry a folded result (audit/folded-result.ts); logicalEvents expands them.
        where.push(
          "e.kind = 'operation_result' OR (e.kind = 'operation' AND jsonb_typeof(e.data::jsonb -> 'priorResult') = 'object')",
        );
      else if (filter.kind !== undefined) where.push(`e.kind = $${params.push(filter.kind)}`);
      if (filter.subject !== undefined) {
        join = " JOIN latch_sessions s ON s.id = e.session_id";
        where.push(`s.subject = $${params.push(filter.subject)}`);
      }
      if (filter.decision !== undefined) {
        where.push(
          `e.kind = 'operation' AND e.data::jsonb -> 'verdict' ->> 'decision' = $${params.push(filter.decision)}`,
        );
      }
      if (filter.text !== undefined) {
        where.push(
          "e.kind = 'operation' AND EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(e.data::jsonb -> 'statements') = 'array' THEN e.data::jsonb -> 'statements' ELSE '[]'::jsonb END) st" +
            ` WHERE strpos(lower(st ->> 'text'), lower($${params.push(filter.text)})) > 0)`,
        );
      }
      const limit = `$${params.push(pageSize(filter.limit))}`;
      const { rows } = await pool.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM latch_audit_events e${join}${whereClause(where)} ORDER BY e.seq LIMIT ${limit}`,
        params,
      );
      return rows.map(toAuditEvent);
    },

    verifyChain() {
      verifying ??= verifyPgStore(pool).finally(() => {
        verifying = undefined;
      });
      return verifying;
    },
  };
}

/**
 * The chain and the sessions index, from one REPEATABLE READ snapshot (replicas keep appending meanwhile),
 * read through a cursor in chunks; hashing yields to the event loop between chunks.
 */
export async function verifyPgStore(pool: pg.Pool): Promise<ChainVerificationReport> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      const recorded = (
        await client.query<{ seq: string; hash: string }>(
          "SELECT seq, hash FROM latch_chain_head WHERE id = 1",
        )
      ).rows[0];
      const recordedHead: ChainHead | undefined =
        recorded === undefined ? undefined : { seq: Number(recorded.seq), hash: recorded.hash };
      // Retention may have deleted a prefix: the chain then starts at its anchor, which a kept checkpoint signs.
      const pruned = readPruned(
        (
          await client.query<RetentionRow>(
            "SELECT pruned_through, anchor_hash, anchor_seq FROM latch_audit_retention WHERE id = 1",
          )
        ).rows[0],
      );
      const verifier = new ChainVerifier(
        pruned === undefined ? undefined : { seq: pruned.through, hash: pruned.anchorHash },
      );
      const sessions = new SessionIndexRebuild();
      await client.query(
        `DECLARE latch_verify NO SCROLL CURSOR FOR SELECT ${EVENT_COLUMNS} FROM latch_audit_events e ORDER BY e.seq`,
      );
      let reading = true;
      while (reading) {
        const { rows } = await client.query<EventRow>(`FETCH ${VERIFY_CHUNK} FROM latch_verify`);
        for (const row of rows) {
          sessions.add(row.kind, row.session_id, row.ts, row.data);
          if (!verifier.add(toStoredRow(row))) {
            reading = false;
            break;
          }
        }
        if (rows.length < VERIFY_CHUNK) reading = false;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const verified = verifier.finish(recordedHead);
      const chain = pruned === undefined ? verified : { ...verified, pruned };
      const problems: StoreProblem[] = [];
      if (pruned !== undefined) {
        const anchor = (
          await client.query<AnchorRow>("SELECT kind, data FROM latch_audit_events WHERE seq = $1", [
            pruned.anchorSeq,
          ])
        ).rows[0];
        const problem = anchorProblem(pruned, anchor);
        if (problem !== undefined) problems.push({ part: "chain", seq: pruned.through, problem });
      }
      const stored = (await client.query<SessionRow>("SELECT * FROM latch_sessions ORDER BY id")).rows;
      const sessionProblem = sessions.compare(stored.map(toIndexedSession));
      if (sessionProblem !== undefined) problems.push({ part: "sessions", seq: 0, problem: sessionProblem });
      return withStoreProblems(chain, problems);
    } finally {
      await client.query("ROLLBACK").catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

function whereClause(conditions: readonly string[]): string {
  return conditions.length === 0 ? "" : ` WHERE ${conditions.map((c) => `(${c})`).join(" AND ")}`;
}

function toStoredRow(row: EventRow) {
  return {
    seq: Number(row.seq),
    ts: row.ts,
    kind: row.kind,
    sessionId: row.session_id,
    dataJson: row.data,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toAuditEvent(row: EventRow): AuditEvent {
  return {
    seq: Number(row.seq),
    ts: row.ts,
    kind: row.kind as AuditEventKind,
    sessionId: row.session_id,
    data: JSON.parse(row.data) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toIndexedSession(row: SessionRow): IndexedSession {
  return toSessionSummary(row);
}

function toSessionSummary(row: SessionRow): SessionSummary {
  return {
    id: row.id,
    protocol: row.protocol,
    connection: row.connection,
    subject: row.subject,
    groups: row.groups,
    clientAddress: row.client_address,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    endReason: row.end_reason,
    operations: Number(row.operations),
    denied: Number(row.denied),
  };
}
