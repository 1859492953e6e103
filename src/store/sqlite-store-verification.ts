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
import { type AnchorRow, anchorProblem, type RetentionRow, readPruned } from "./pruned-prefix.js";
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
  const hasRetention =
    db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_retention'").get() !==
    undefined;
  const retention = hasRetention
    ? db.prepare("SELECT pruned_through, anchor_hash, anchor_seq FROM audit_retention WHERE id = 1")
    : undefined;
  const eventAt = db.prepare("SELECT kind, data FROM audit_events WHERE seq = ?");

  return db.transaction((): ChainVerificationReport => {
    const recorded = chainHead.get() as ChainHead | undefined;
    const pruned = readPruned(retention?.get() as RetentionRow | undefined);
    const sessions = new SessionIndexRebuild();
    const verified = verifyEventChain(
      rebuildingSessions(allEvents.iterate() as IterableIterator<EventRow>, sessions),
      recorded,
      pruned === undefined ? undefined : { seq: pruned.through, hash: pruned.anchorHash },
    );
    const chain = pruned === undefined ? verified : { ...verified, pruned };
    const problems: StoreProblem[] = [];
    if (pruned !== undefined) {
      const anchor = anchorProblem(pruned, eventAt.get(pruned.anchorSeq) as AnchorRow | undefined);
      if (anchor !== undefined) problems.push({ part: "chain", seq: pruned.through, problem: anchor });
    }
    const sessionProblem = sessions.compare(
      storedSessions(allSessions.iterate() as IterableIterator<SessionRow>),
    );
    if (sessionProblem !== undefined) problems.push({ part: "sessions", seq: 0, problem: sessionProblem });
    if (journalFile !== undefined) {
      // Against what the index holds, intact or not: the journal must agree with it line for line.
      // A journal line of a pruned event has nothing left to agree with in the index.
      const through = pruned?.through ?? 0;
      const journal = verifyJournal(journalFile, chain.end, (seq) =>
        seq <= through ? PRUNED : (hashAt.get(seq) as string | undefined),
      );
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

/** Stands in for the index hash of a pruned event (verify-journal skips lines that carry it). */
export const PRUNED = "pruned";
