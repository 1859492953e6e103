import { existsSync, renameSync } from "node:fs";
import Database from "better-sqlite3";
import { SEGMENT_START_KIND, type SegmentStartData } from "../audit/segment-start.js";
import { SessionIndexRebuild } from "../audit/session-index.js";
import type { ChainVerificationReport } from "../audit/verify-chain.js";
import { openSqliteAuditQueries } from "./sqlite-audit-reader.js";
import { openSqliteAuditSink } from "./sqlite-audit-sink.js";
import { acquireWriterLock } from "./sqlite-writer-lock.js";
import type { AuditEventKind } from "./store.js";

export interface NewSegmentRequest {
  readonly reason: string;
  readonly operator: string;
}

export interface NewSegmentResult {
  /** What verification found before anything was done. */
  readonly before: ChainVerificationReport;
  /** Seq of the `audit_segment_start` written; absent when the store verified and nothing was written. */
  readonly segmentSeq?: number;
  readonly repaired: readonly string[];
  /** Verification after the segment started: ok unless something was found that no segment can acknowledge. */
  readonly after: ChainVerificationReport;
}

/**
 * `latch audit new-segment` on the embedded store, with the gateway stopped (it takes the writer lock). Nothing
 * that is evidence is deleted:
 * - chain breaks (edited, deleted, inserted or reordered events) stay as they are and are listed, with the
 *   operator's reason, in a new chained `audit_segment_start` event, after which they no longer fail
 *   verification; any break it does not list still does;
 * - a head record that no longer matches the last event is moved to it (the mismatch is listed);
 * - a sessions index that does not match its events is rebuilt from them (the chained events are the truth);
 * - a journal that does not agree with the index is renamed aside (`audit.journal.set-aside-<time>`), never
 *   replayed.
 */
export async function startNewSqliteSegment(
  file: string,
  journalFile: string,
  request: NewSegmentRequest,
): Promise<NewSegmentResult> {
  const lock = acquireWriterLock(file);
  let before: ChainVerificationReport;
  const repaired: string[] = [];
  try {
    before = verifyNow(file, journalFile);
    if (before.ok) return { before, repaired, after: before };
    const problems = before.problems ?? [];
    if (problems.some((problem) => problem.part === "journal"))
      repaired.push(...setJournalAside(journalFile));
    const db = new Database(file);
    try {
      if (problems.some((problem) => problem.part === "head")) {
        moveHeadRecord(db, before.end);
        repaired.push(`chain_head moved to event ${before.end.seq}`);
      }
      if (problems.some((problem) => problem.part === "sessions")) {
        rebuildSessionsIndex(db);
        repaired.push("sessions index rebuilt from the chained events");
      }
    } finally {
      db.close();
    }
  } finally {
    lock.release();
  }

  const problems = before.problems ?? [];
  const data: SegmentStartData = {
    reason: request.reason,
    operator: request.operator,
    breaks: [...new Set(problems.filter((p) => p.part === "chain").map((p) => p.seq))],
    found: problems.map(({ part, seq, problem }) => ({ part, seq, problem })),
    repaired,
  };
  const sink = await openSqliteAuditSink(file, journalFile);
  let segmentSeq: number;
  try {
    await sink.append([
      { kind: SEGMENT_START_KIND satisfies AuditEventKind, sessionId: null, data: { ...data } },
    ]);
    segmentSeq = sink.head().seq;
    await sink.flush();
  } finally {
    await sink.close();
  }
  return { before, segmentSeq, repaired, after: verifyNow(file, journalFile) };
}

function verifyNow(file: string, journalFile: string): ChainVerificationReport {
  const queries = openSqliteAuditQueries(file, { journalFile });
  try {
    return queries.verifyChain();
  } finally {
    queries.close();
  }
}

function setJournalAside(journalFile: string): string[] {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const moved: string[] = [];
  for (const file of [`${journalFile}.old`, journalFile]) {
    if (!existsSync(file)) continue;
    const aside = `${file}.set-aside-${stamp}`;
    renameSync(file, aside);
    moved.push(`${file} set aside as ${aside}`);
  }
  return moved;
}

/** chain_head only moves forward in normal operation (a trigger says so); this repair is the one exception. */
function moveHeadRecord(db: Database.Database, to: { seq: number; hash: string }): void {
  const trigger = db
    .prepare("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'chain_head_forward_only'")
    .pluck()
    .get() as string | undefined;
  db.transaction(() => {
    if (trigger !== undefined) db.exec("DROP TRIGGER chain_head_forward_only");
    db.prepare(
      "INSERT INTO chain_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
    ).run(to.seq, to.hash);
    if (trigger !== undefined) db.exec(trigger);
  }).immediate();
}

function rebuildSessionsIndex(db: Database.Database): void {
  const rebuild = new SessionIndexRebuild();
  const events = db
    .prepare("SELECT kind, session_id, ts, data FROM audit_events ORDER BY seq")
    .iterate() as Iterable<{
    kind: string;
    session_id: string | null;
    ts: string;
    data: string;
  }>;
  for (const event of events) rebuild.add(event.kind, event.session_id, event.ts, event.data);
  const insert = db.prepare(
    "INSERT INTO sessions (id, protocol, connection, subject, groups, client_address, started_at, ended_at, end_reason, operations, denied) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  );
  db.transaction(() => {
    db.exec("DELETE FROM sessions");
    for (const s of rebuild.entries()) {
      insert.run(
        s.id,
        s.protocol,
        s.connection,
        s.subject,
        JSON.stringify(s.groups),
        s.clientAddress,
        s.startedAt,
        s.endedAt,
        s.endReason,
        s.operations,
        s.denied,
      );
    }
  }).immediate();
}
