import type Database from "better-sqlite3";
import { type IndexedSession, SessionIndexRebuild } from "../audit/session-index.js";
import {
  type ChainHead,
  type ChainVerificationReport,
  type StoredEventRow,
  type StoreProblem,
  verifyEventChain,
  withStoreProblems,
} from "../audit/verify-chain.js";
import { type EventRow, type SessionRow, toSessionSummary } from "./sqlite-audit-rows.js";
import { verifyJournal } from "./verify-journal.js";

/**
 * Verifies everything of a SQLite store that search and the API show, from one read snapshot (a gateway may
 * keep appending meanwhile):
 * 1. the hash chain of `audit_events` against `chain_head` (verify-chain.ts);
 * 2. the sessions index against the index rebuilt from the chained events (session-index.ts);
 * 3. with `journalFile`, the audit journal against the index (verify-journal.ts).
 * The report names the first problem and the part it is in.
 */
export function createSqliteStoreVerification(db: Database.Database, journalFile: string | undefined) {
  const chainHead = db.prepare("SELECT seq, hash FROM chain_head WHERE id = 1");
  const allEvents = db.prepare(
    "SELECT seq, ts, kind, session_id, data, prev_hash, hash FROM audit_events ORDER BY seq",
  );
  const allSessions = db.prepare("SELECT * FROM sessions ORDER BY id");
  const hashAt = db.prepare("SELECT hash FROM audit_events WHERE seq = ?").pluck();

  return db.transaction((): ChainVerificationReport => {
    const recorded = chainHead.get() as ChainHead | undefined;
    const sessions = new SessionIndexRebuild();
    const chain = verifyEventChain(
      rebuildingSessions(allEvents.iterate() as IterableIterator<EventRow>, sessions),
      recorded,
    );
    const problems: StoreProblem[] = [];
    const sessionProblem = sessions.compare(
      storedSessions(allSessions.iterate() as IterableIterator<SessionRow>),
    );
    if (sessionProblem !== undefined) problems.push({ part: "sessions", seq: 0, problem: sessionProblem });
    if (journalFile !== undefined) {
      // Against what the index holds, intact or not: the journal must agree with it line for line.
      const journal = verifyJournal(journalFile, chain.end, (seq) => hashAt.get(seq) as string | undefined);
      if (journal.problem !== undefined) problems.push({ part: "journal", ...journal.problem });
    }
    return withStoreProblems(chain, problems);
  });
}

function* rebuildingSessions(
  rows: IterableIterator<EventRow>,
  sessions: SessionIndexRebuild,
): Iterable<StoredEventRow> {
  for (const row of rows) {
    sessions.add(row.kind, row.session_id, row.ts, row.data);
    yield {
      seq: row.seq,
      ts: row.ts,
      kind: row.kind,
      sessionId: row.session_id,
      dataJson: row.data,
      prevHash: row.prev_hash,
      hash: row.hash,
    };
  }
}

function* storedSessions(rows: IterableIterator<SessionRow>): Iterable<IndexedSession> {
  for (const row of rows) {
    try {
      yield toSessionSummary(row);
    } catch {
      // Unparsable groups: not an array at all, so they never equal the events' array.
      yield { ...toSessionSummary({ ...row, groups: "[]" }), groups: null as unknown as string[] };
    }
  }
}
