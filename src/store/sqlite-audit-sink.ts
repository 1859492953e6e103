import { closeSync, fstatSync, ftruncateSync, openSync, writeSync } from "node:fs";
import type { HashedEvent } from "../audit/event-hash.js";
import { LatchError } from "../errors.js";
import { type AuditIndexer, startAuditIndexer } from "./audit-indexer-thread.js";
import { AuditJournal } from "./audit-journal.js";
import type { AuditHealth, AuditSink } from "./store.js";
import { assertStoreFilesWritable, describeStoreFailure } from "./store-file-health.js";

/** The embedded store's audit writer; `close` flushes the index and releases the store file. */
export interface SqliteAuditSink extends AuditSink {
  health(): AuditHealth;
  close(): Promise<void>;
}

export interface SqliteAuditSinkOptions {
  /** Delay before the first retry of a refused write, doubling up to `maxMs`. Default 250 ms to 5 s. */
  readonly retry?: { readonly firstMs: number; readonly maxMs: number };
  /** Starts (and after a thread's death, restarts) the index thread; tests inject their own. */
  readonly startIndexer?: (dbFile: string) => Promise<AuditIndexer>;
  /** Milliseconds since the epoch; tests inject a clock. */
  readonly now?: () => number;
}

const REPLAY_CHUNK = 500;
const DEFAULT_RETRY = { firstMs: 250, maxMs: 5000 };

/**
 * The audit write side of the embedded store: a journal (durability: one write(2) per group of events, done
 * before `append` resolves) + the SQLite index (queries; written in a worker thread, trailing by a moment).
 * On open, journal lines the index lacks (a crash) are replayed into it.
 *
 * When a write fails (disk full, an unwritable store file, a dead index thread) the sink refuses appends, so
 * operations are denied (fail closed), and retries on its own with backoff: the index gets the events it lacks
 * (they stay in memory and in the journal, which never rotates past what the index holds), a dead thread is
 * started again, and a refused journal is probed. The first retry that succeeds ends the refusal, no restart.
 */
export async function openSqliteAuditSink(
  dbFile: string,
  journalFile: string,
  options: SqliteAuditSinkOptions = {},
): Promise<SqliteAuditSink> {
  assertStoreFilesWritable(dbFile, journalFile);
  const start = options.startIndexer ?? startAuditIndexer;
  const indexer = await start(dbFile);
  try {
    const { journal, missing } = AuditJournal.open(journalFile, indexer.openedAt);
    for (let i = 0; i < missing.length; i += REPLAY_CHUNK)
      await indexer.index(missing.slice(i, i + REPLAY_CHUNK));
    journal.truncateIfIndexed(journal.chainHead.seq);
    return createSink({ journal, journalFile, indexer, dbFile, start, options });
  } catch (error) {
    await indexer.close();
    throw error;
  }
}

/** Index writes are grouped: the journal already made events durable, so the index may trail by a moment. */
const INDEX_DELAY_MS = 25;
const INDEX_MAX_EVENTS = 2000;
/** Bytes written (then cut off again) to learn whether a refused journal takes writes again. */
const PROBE_BYTES = 4096;

interface SinkParts {
  readonly journal: AuditJournal;
  readonly journalFile: string;
  indexer: AuditIndexer;
  readonly dbFile: string;
  readonly start: (dbFile: string) => Promise<AuditIndexer>;
  readonly options: SqliteAuditSinkOptions;
}

interface Refusal {
  readonly source: "journal" | "index";
  readonly since: number;
  readonly reason: string;
  readonly error: LatchError;
}

function createSink(parts: SinkParts): SqliteAuditSink {
  const { journal } = parts;
  const retry = parts.options.retry ?? DEFAULT_RETRY;
  const now = parts.options.now ?? Date.now;
  /** Appended to the journal, not yet in the index, oldest first; the first `sending` are in flight. */
  let unindexed: HashedEvent[] = [];
  let sending: Promise<void> | undefined;
  let batchTimer: NodeJS.Timeout | undefined;
  let refusal: Refusal | undefined;
  let refusedMs = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryDelay = retry.firstMs;
  let closed = false;
  const idle: (() => void)[] = [];

  const refuse = (source: Refusal["source"], error: unknown): LatchError => {
    const refused = new LatchError("audit_unavailable", {}, { cause: error });
    refusal = { source, since: refusal?.since ?? now(), reason: describeStoreFailure(error), error: refused };
    scheduleRetry();
    return refused;
  };
  const recover = (source: Refusal["source"]): void => {
    if (refusal?.source !== source) return;
    refusedMs += now() - refusal.since;
    refusal = undefined;
    retryDelay = retry.firstMs;
    clearTimeout(retryTimer);
    retryTimer = undefined;
  };
  const scheduleRetry = (): void => {
    if (closed || retryTimer !== undefined) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      retryDelay = Math.min(retryDelay * 2, retry.maxMs);
      void retryNow();
    }, retryDelay);
    retryTimer.unref();
  };
  const retryNow = async (): Promise<void> => {
    if (refusal === undefined || closed) return;
    if (refusal.source === "journal") {
      if (probeJournal(parts.journalFile)) recover("journal");
      else scheduleRetry();
      return;
    }
    if (parts.indexer.isDead() && !(await restartIndexer())) return;
    if (unindexed.length > 0) {
      sendBatch(true);
      return;
    }
    // Nothing to index (a failed check or a thread that died idle): a check proves the index writable again.
    try {
      await parts.indexer.check();
      recover("index");
    } catch (error) {
      refuse("index", error);
    }
  };
  /** A new index thread after the old one died; the events it already holds are dropped from the backlog. */
  const restartIndexer = async (): Promise<boolean> => {
    await parts.indexer.close().catch(() => undefined);
    try {
      parts.indexer = await parts.start(parts.dbFile);
    } catch (error) {
      refuse("index", error);
      return false;
    }
    const held = parts.indexer.openedAt.seq;
    unindexed = unindexed.filter((event) => event.seq > held);
    return true;
  };

  /**
   * Sends the oldest unindexed events; one request at a time, so a failure never leaves a gap behind it. While
   * the index refuses, only the retry timer sends (`retrying`), so the backoff holds whoever flushes.
   */
  const sendBatch = (retrying = false): void => {
    clearTimeout(batchTimer);
    batchTimer = undefined;
    if (sending !== undefined) return;
    if (refusal?.source === "index" && !retrying) {
      for (const wake of idle.splice(0)) wake();
      return;
    }
    if (unindexed.length === 0) {
      if (refusal?.source === "index") recover("index");
      for (const wake of idle.splice(0)) wake();
      return;
    }
    const batch = unindexed.slice(0, INDEX_MAX_EVENTS);
    const lastSeq = batch[batch.length - 1]!.seq;
    sending = parts.indexer
      .index(batch)
      .then(
        () => {
          unindexed = unindexed.filter((event) => event.seq > lastSeq);
          try {
            journal.indexedUpTo(lastSeq);
          } catch {
            // Rotation failed (no room for a new file): the journal keeps growing and tries again next batch.
          }
          return true;
        },
        (error: unknown) => {
          refuse("index", error);
          return false;
        },
      )
      .then((indexed) => {
        sending = undefined;
        if (!indexed || closed) {
          for (const wake of idle.splice(0)) wake();
          return;
        }
        // Straight on only when someone waits (flush), the backlog is large or a refusal is being cleared;
        // otherwise the next group waits INDEX_DELAY_MS like any other, so a busy gateway wakes the index
        // thread once per delay rather than after every commit (measured: ~10% TPS on 2 cores).
        if (refusal?.source === "index" || idle.length > 0 || unindexed.length >= INDEX_MAX_EVENTS)
          sendBatch(true);
        else if (unindexed.length > 0) batchTimer ??= setTimeout(() => sendBatch(), INDEX_DELAY_MS);
        else for (const wake of idle.splice(0)) wake();
      });
  };

  /** Resolves once nothing is in flight and the index holds everything, or the index refuses. */
  const settled = (): Promise<void> => {
    sendBatch();
    if (sending === undefined) return Promise.resolve();
    return new Promise<void>((resolve) => idle.push(resolve));
  };

  return {
    // The journal write is synchronous (one write(2), no thread hop): durable when this returns.
    // Success returns nothing (no promise per group on the statement path); a failure is a rejection, as the
    // interface says. While the index refuses, nothing is written: the backlog would only grow.
    append(events) {
      if (closed) return Promise.reject(new LatchError("audit_unavailable"));
      if (refusal?.source === "index") return Promise.reject(refusal.error);
      let hashed: HashedEvent[];
      try {
        hashed = journal.append(events);
      } catch (error) {
        refuse("journal", (error as Error).cause ?? error);
        return Promise.reject(error);
      }
      recover("journal");
      for (const event of hashed) unindexed.push(event);
      if (unindexed.length >= INDEX_MAX_EVENTS) sendBatch();
      else batchTimer ??= setTimeout(() => sendBatch(), INDEX_DELAY_MS);
    },
    head: () => journal.chainHead,
    async flush() {
      await settled();
      if (refusal?.source === "index") throw refusal.error;
    },
    async check() {
      if (refusal?.source === "journal" && probeJournal(parts.journalFile)) recover("journal");
      if (refusal !== undefined) throw refusal.error;
      try {
        await parts.indexer.check();
      } catch (error) {
        throw refuse("index", error);
      }
    },
    health(): AuditHealth {
      const current = refusal;
      const total = refusedMs + (current === undefined ? 0 : now() - current.since);
      if (current === undefined) return { state: "ok", refusedSeconds: total / 1000 };
      return {
        state: "refusing",
        since: new Date(current.since).toISOString(),
        reason: current.reason,
        refusedSeconds: total / 1000,
      };
    },
    async close() {
      if (closed) return;
      await settled();
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(batchTimer);
      journal.close();
      await parts.indexer.close();
    },
  };
}

/**
 * Whether the journal's file system takes writes again: bytes without a line end, cut off at once. If the
 * process died in between, the journal's reader drops them as a torn last line that was never acknowledged.
 */
function probeJournal(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, "a");
    const size = fstatSync(fd).size;
    try {
      const probe = Buffer.alloc(PROBE_BYTES, 0x20);
      for (let offset = 0; offset < probe.length; ) offset += writeSync(fd, probe, offset);
    } finally {
      ftruncateSync(fd, size);
    }
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
