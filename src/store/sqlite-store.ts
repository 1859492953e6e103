import { statSync } from "node:fs";
import Database from "better-sqlite3";
import { indexedBody } from "../audit/event-data.js";
import { chainEvents, type HashedEvent } from "../audit/event-hash.js";
import { sessionIndexChange } from "../audit/session-index.js";
import { type ChainHead, EMPTY_CHAIN_HEAD } from "../audit/verify-chain.js";
import { LatchError } from "../errors.js";
import { createSqliteAuditQueries, type SqliteAuditQueries } from "./sqlite-audit-queries.js";
import { migrateSqliteStore } from "./sqlite-migrations.js";
import { acquireWriterLock } from "./sqlite-writer-lock.js";
import type { AuditEvent, AuditEventInput } from "./store.js";

export interface SqliteStoreOptions {
  /** How long a write waits for a lock held by another connection before failing. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
}

/**
 * The SQLite index of the audit log, synchronous (better-sqlite3): the gateway runs it in a worker thread
 * (audit-writer-worker.ts) behind the asynchronous `AuditSink` of sqlite-audit-sink.ts, never on its event loop.
 * Tools and tests use it directly.
 */
export interface SqliteStore extends SqliteAuditQueries {
  /** Chains and writes one event; throws `audit_unavailable` on any failure. */
  append(event: AuditEventInput): AuditEvent;
  /** Several events in one transaction, chained in order: all or nothing. */
  appendMany(events: readonly AuditEventInput[]): AuditEvent[];
  /** Indexes events that were chained and made durable by the audit journal; they must follow head(). */
  appendHashed(events: readonly HashedEvent[]): void;
  head(): ChainHead;
  /** Throws if the store cannot be written. */
  check(): void;
  close(): void;
}

/**
 * The embedded store: one SQLite file, written by exactly one gateway process (see sqlite-writer-lock.ts;
 * HA deployments use the PostgreSQL store).
 *
 * Durability: WAL with synchronous=NORMAL. A committed append survives a crash of the gateway process (the
 * WAL is in the OS page cache), but the last transactions before a power loss or kernel crash may be lost.
 * They are lost whole (event and chain_head together), so the shorter log still verifies; only a head
 * anchored outside the store (`latch audit verify --expect-head`) shows the gap. synchronous=FULL would
 * fsync every append: one disk flush per SQL statement through the gateway.
 *
 * The chain head (last seq and hash) is read once at open and kept in memory, so append only writes. It
 * advances only after the transaction commits; any failure (disk full, locked, file removed, closed) throws
 * from append and leaves the head where it was, so the caller can deny the operation and try again later.
 */
const NO_DATA: Readonly<Record<string, unknown>> = Object.freeze({});
/** Rows per INSERT of the index thread's batches (7 parameters each, well under SQLite's 32,766). */
const INSERT_ROWS = 16;

export function createSqliteStore(file: string, options: SqliteStoreOptions = {}): SqliteStore {
  const lock = acquireWriterLock(file);
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    // Checkpoint every ~40 MB of WAL instead of ~4 MB: the chain_head and sessions pages rewritten by every
    // append are copied back once per checkpoint, so fewer checkpoints cost less (measured ~10% CPU per append).
    db.pragma("wal_autocheckpoint = 10000");
    // Truncate the WAL back to 64 MB after a checkpoint (it can grow while a long verify holds a snapshot).
    db.pragma("journal_size_limit = 67108864");
    migrateSqliteStore(db, file);
    return buildStore(db, file, lock.release);
  } catch (cause) {
    db?.close();
    lock.release();
    throw asStoreError(file, cause);
  }
}

function buildStore(db: Database.Database, file: string, releaseLock: () => void): SqliteStore {
  const fileIdentity = statSync(file);
  const insertEvent = db.prepare(
    "INSERT INTO audit_events (seq, ts, kind, session_id, data, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  const advanceHead = db.prepare("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1");
  const insertSession = db.prepare(
    "INSERT INTO sessions (id, protocol, connection, subject, groups, client_address, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
  );
  const endSession = db.prepare(
    "UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
  );
  const countOperations = db.prepare(
    "UPDATE sessions SET operations = operations + ?, denied = denied + ? WHERE id = ?",
  );
  const touchHealth = db.prepare("UPDATE health_check SET checked_at = ? WHERE id = 1");

  let head = readHeadAtOpen(db, file);

  /**
   * Operations counted per session while a batch is inserted, written once per session when it ends: one
   * UPDATE per session and batch instead of one per statement (the transaction makes the two alike to readers).
   */
  type SessionCounts = Map<string, { operations: number; denied: number }>;
  const writeCounts = (counts: SessionCounts): void => {
    for (const [id, count] of counts) countOperations.run(count.operations, count.denied, id);
  };

  /** Inserts one already-hashed event after `previous`; runs inside a transaction. */
  const insertHashed = (
    event: HashedEvent,
    previous: ChainHead,
    data: Readonly<Record<string, unknown>>,
    counts: SessionCounts,
  ): void => {
    assertFollows(event, previous);
    insertEvent.run(
      event.seq,
      event.ts,
      event.kind,
      event.sessionId,
      event.dataJson,
      event.prevHash,
      event.hash,
    );
    indexSession(
      { kind: event.kind as AuditEventInput["kind"], sessionId: event.sessionId, data },
      event.ts,
      counts,
    );
  };

  const indexSession = (input: AuditEventInput, ts: string, counts: SessionCounts): void => {
    const change = sessionIndexChange(input.kind, input.sessionId, ts, input.data);
    if (change === undefined) return;
    if (change.kind === "start") {
      const session = change.session;
      insertSession.run(
        session.id,
        session.protocol,
        session.connection,
        session.subject,
        JSON.stringify(session.groups),
        session.clientAddress,
        session.startedAt,
      );
    } else if (change.kind === "end") endSession.run(change.endedAt, change.endReason, change.id);
    else {
      const count = counts.get(change.id);
      if (count === undefined) counts.set(change.id, { operations: 1, denied: change.denied ? 1 : 0 });
      else {
        count.operations += 1;
        if (change.denied) count.denied += 1;
      }
    }
  };

  const appendBatch = db.transaction((inputs: readonly AuditEventInput[]): AuditEvent[] => {
    const hashed = chainEvents(inputs, head, new Date().toISOString());
    const written: AuditEvent[] = [];
    let position = head;
    const counts: SessionCounts = new Map();
    hashed.forEach((event, i) => {
      const input = inputs[i]!;
      insertHashed(event, position, input.data, counts);
      written.push({ ...input, seq: event.seq, ts: event.ts, prevHash: event.prevHash, hash: event.hash });
      position = event;
    });
    writeCounts(counts);
    if (written.length > 0) advanceHead.run(position.seq, position.hash);
    return written;
  });

  /**
   * SQLite keeps writing to a file that was deleted or renamed under it, into an inode nobody will ever read
   * again: the events would be silently lost. One stat per append (~2 us) turns that into an error.
   */
  const assertFileInPlace = (): void => {
    const now = statSync(file, { throwIfNoEntry: false });
    if (now === undefined || now.ino !== fileIdentity.ino || now.dev !== fileIdentity.dev) {
      throw Object.assign(new Error(`the store file ${file} was removed or replaced while open`), {
        code: "STORE_FILE_REPLACED",
      });
    }
  };

  /**
   * The index thread's rows go in INSERT_ROWS at a time, one statement with that many rows of parameters: the
   * per-call cost of better-sqlite3's run() (its result object, the statement's reset, the call into C++) is
   * paid once per INSERT_ROWS events instead of once per event. The rows and their order are those of one
   * INSERT per event; the remainder of a batch goes one by one.
   */
  const insertRows = db.prepare(
    `INSERT INTO audit_events (seq, ts, kind, session_id, data, prev_hash, hash) VALUES ${Array(INSERT_ROWS)
      .fill("(?, ?, ?, ?, ?, ?, ?)")
      .join(", ")}`,
  );
  const rowValues: unknown[] = [];

  const appendHashedBatch = db.transaction((events: readonly HashedEvent[]): void => {
    let position = head;
    const counts: SessionCounts = new Map();
    const whole = events.length - (events.length % INSERT_ROWS);
    rowValues.length = 0;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      assertFollows(event, position);
      if (i < whole) {
        rowValues.push(
          event.seq,
          event.ts,
          event.kind,
          event.sessionId,
          event.dataJson,
          event.prevHash,
          event.hash,
        );
        if (rowValues.length === INSERT_ROWS * 7) {
          insertRows.run(rowValues);
          rowValues.length = 0;
        }
      } else {
        insertEvent.run(
          event.seq,
          event.ts,
          event.kind,
          event.sessionId,
          event.dataJson,
          event.prevHash,
          event.hash,
        );
      }
      // Only bodies that change the sessions index are parsed (results are not; of an operation, its verdict).
      const data = indexedBody(event.kind, event.dataJson) ?? NO_DATA;
      indexSession(
        { kind: event.kind as AuditEventInput["kind"], sessionId: event.sessionId, data },
        event.ts,
        counts,
      );
      position = event;
    }
    rowValues.length = 0;
    writeCounts(counts);
    if (events.length > 0) advanceHead.run(position.seq, position.hash);
  });

  const appendMany = (inputs: readonly AuditEventInput[]): AuditEvent[] => {
    try {
      assertFileInPlace();
      const written = appendBatch.immediate(inputs);
      const last = written[written.length - 1];
      if (last !== undefined) head = { seq: last.seq, hash: last.hash };
      return written;
    } catch (cause) {
      throw new LatchError("audit_unavailable", {}, { cause });
    }
  };

  return {
    ...createSqliteAuditQueries(db),
    append(input: AuditEventInput): AuditEvent {
      return appendMany([input])[0]!;
    },
    appendMany,
    appendHashed(events: readonly HashedEvent[]): void {
      try {
        assertFileInPlace();
        appendHashedBatch.immediate(events);
        const last = events[events.length - 1];
        if (last !== undefined) head = { seq: last.seq, hash: last.hash };
      } catch (cause) {
        throw new LatchError("audit_unavailable", {}, { cause });
      }
    },
    head: () => head,
    check(): void {
      try {
        assertFileInPlace();
        touchHealth.run(new Date().toISOString());
      } catch (cause) {
        throw new LatchError("audit_unavailable", {}, { cause });
      }
    },
    close(): void {
      try {
        if (db.open) db.close();
      } finally {
        releaseLock();
      }
    },
  };
}

/**
 * Reads the head once. If the log and its head record disagree the log was truncated (or tampered with) while
 * the gateway was stopped; appending after it would bury the evidence, so the store refuses to open.
 */
function readHeadAtOpen(db: Database.Database, file: string): ChainHead {
  const recorded = db.prepare("SELECT seq, hash FROM chain_head WHERE id = 1").get() as ChainHead | undefined;
  const last = db.prepare("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").get() as
    | ChainHead
    | undefined;
  const logHead = last ?? EMPTY_CHAIN_HEAD;
  if (recorded === undefined || recorded.seq !== logHead.seq || recorded.hash !== logHead.hash) {
    throw new LatchError("config_invalid", {
      detail: `store ${file}: the audit log ends at event ${logHead.seq} but chain_head records event ${recorded?.seq ?? "(missing)"}; the log may have been truncated or edited. Run "latch audit verify" and keep a copy of this file before moving it aside.`,
    });
  }
  return recorded;
}

function asStoreError(file: string, cause: unknown): Error {
  if (cause instanceof LatchError) return cause;
  return new LatchError(
    "config_invalid",
    { detail: `cannot open store ${file}: ${(cause as Error).message}` },
    { cause },
  );
}

/** An event indexed out of chain order would make the index disagree with the journal: refuse it. */
function assertFollows(event: HashedEvent, head: ChainHead): void {
  if (event.seq !== head.seq + 1 || event.prevHash !== head.hash) {
    throw new Error(`event ${event.seq} does not follow the chain head ${head.seq}`);
  }
}
