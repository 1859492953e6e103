import type Database from "better-sqlite3";
import type { ChainVerificationReport } from "../audit/verify-chain.js";
import { type EventRow, type SessionRow, toSessionSummary } from "./sqlite-audit-rows.js";
import { createSqliteStoreVerification } from "./sqlite-store-verification.js";
import type { AuditEvent, AuditEventKind, AuditFilter, SessionFilter, SessionSummary } from "./store.js";
import { pageSize } from "./store.js";

/**
 * The audit queries over one SQLite connection, synchronous (better-sqlite3). The gateway calls none of them
 * directly: `SqliteAuditReader` (sqlite-audit-reader.ts) serves the short ones behind Promises and runs
 * `verifyChain`, which reads the whole chain, in a worker thread.
 */
export interface SqliteAuditQueries {
  listSessions(filter?: SessionFilter): SessionSummary[];
  getSession(id: string): SessionSummary | undefined;
  events(filter?: AuditFilter): AuditEvent[];
  /** The chain, the sessions index and (when the reader knows it) the journal: see sqlite-store-verification.ts. */
  verifyChain(): ChainVerificationReport;
}

const EVENT_COLUMNS = "e.seq, e.ts, e.kind, e.session_id, e.data, e.prev_hash, e.hash";

/**
 * Queries over the audit tables. Works on the writer's connection and on a read-only one alike; it never
 * writes. Filters are bound parameters; the few SQL shapes they produce are prepared once and cached.
 */
export function createSqliteAuditQueries(
  db: Database.Database,
  options: { readonly journalFile?: string } = {},
): SqliteAuditQueries {
  const eventQueries = new Map<string, Database.Statement>();
  const sessionQueries = new Map<string, Database.Statement>();
  const getSessionStatement = db.prepare("SELECT * FROM sessions WHERE id = ?");

  const cached = (cache: Map<string, Database.Statement>, sql: string): Database.Statement => {
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  };

  // Lazily: a reader that only searches never prepares the verification's statements.
  let verification: (() => ChainVerificationReport) | undefined;

  return {
    listSessions(filter: SessionFilter = {}): SessionSummary[] {
      const where: string[] = [];
      const params: unknown[] = [];
      if (filter.subject !== undefined) {
        where.push("subject = ?");
        params.push(filter.subject);
      }
      if (filter.connection !== undefined) {
        where.push("connection = ?");
        params.push(filter.connection);
      }
      if (filter.active !== undefined)
        where.push(filter.active ? "ended_at IS NULL" : "ended_at IS NOT NULL");
      const sql = `SELECT * FROM sessions${whereClause(where)} ORDER BY started_at DESC, rowid DESC LIMIT ?`;
      params.push(pageSize(filter.limit));
      return (cached(sessionQueries, sql).all(...params) as SessionRow[]).map(toSessionSummary);
    },

    getSession(id: string): SessionSummary | undefined {
      const row = getSessionStatement.get(id) as SessionRow | undefined;
      return row === undefined ? undefined : toSessionSummary(row);
    },

    events(filter: AuditFilter = {}): AuditEvent[] {
      const where: string[] = [];
      const params: unknown[] = [];
      let join = "";
      if (filter.afterSeq !== undefined) {
        where.push("e.seq > ?");
        params.push(filter.afterSeq);
      }
      if (filter.sessionId !== undefined) {
        where.push("e.session_id = ?");
        params.push(filter.sessionId);
      }
      if (filter.kind === "operation_result") {
        // Also the operations that carry a folded result (audit/folded-result.ts); logicalEvents expands them.
        where.push(
          "e.kind = 'operation_result' OR (e.kind = 'operation' AND json_type(e.data, '$.priorResult') = 'object')",
        );
      } else if (filter.kind !== undefined) {
        where.push("e.kind = ?");
        params.push(filter.kind);
      }
      if (filter.subject !== undefined) {
        join = " JOIN sessions s ON s.id = e.session_id";
        where.push("s.subject = ?");
        params.push(filter.subject);
      }
      if (filter.decision !== undefined) {
        where.push("e.kind = 'operation' AND json_extract(e.data, '$.verdict.decision') = ?");
        params.push(filter.decision);
      }
      if (filter.text !== undefined) {
        // lower() folds ASCII only, which covers SQL keywords and identifiers; good enough for search.
        where.push(
          "e.kind = 'operation' AND EXISTS (SELECT 1 FROM json_each(e.data, '$.statements') st" +
            " WHERE instr(lower(json_extract(st.value, '$.text')), lower(?)) > 0)",
        );
        params.push(filter.text);
      }
      const sql = `SELECT ${EVENT_COLUMNS} FROM audit_events e${join}${whereClause(where)} ORDER BY e.seq LIMIT ?`;
      params.push(pageSize(filter.limit));
      return (cached(eventQueries, sql).all(...params) as EventRow[]).map(toAuditEvent);
    },

    verifyChain(): ChainVerificationReport {
      verification ??= createSqliteStoreVerification(db, options.journalFile);
      return verification();
    },
  };
}

function whereClause(conditions: readonly string[]): string {
  return conditions.length === 0 ? "" : ` WHERE ${conditions.map((c) => `(${c})`).join(" AND ")}`;
}

function toAuditEvent(row: EventRow): AuditEvent {
  return {
    seq: row.seq,
    ts: row.ts,
    kind: row.kind as AuditEventKind,
    sessionId: row.session_id,
    data: JSON.parse(row.data) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
