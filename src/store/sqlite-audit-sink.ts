import type { HashedEvent } from "../audit/event-hash.js";
import { LatchError } from "../errors.js";
import { type AuditIndexer, startAuditIndexer } from "./audit-indexer-thread.js";
import { AuditJournal } from "./audit-journal.js";
import type { AuditSink } from "./store.js";

/** The embedded store's audit writer; `close` flushes the index and releases the store file. */
export interface SqliteAuditSink extends AuditSink {
  close(): Promise<void>;
}

const REPLAY_CHUNK = 500;

/**
 * The audit write side of the embedded store: a journal (durability: one write(2) per group of events, done
 * before `append` resolves) + the SQLite index (queries; written in a worker thread, trailing by a moment).
 * On open, journal lines the index lacks (a crash) are replayed into it. If the index ever fails, the sink
 * refuses further appends: operations are denied until a restart replays the journal into the index.
 */
export async function openSqliteAuditSink(dbFile: string, journalFile: string): Promise<SqliteAuditSink> {
  const indexer = await startAuditIndexer(dbFile);
  try {
    const { journal, missing } = AuditJournal.open(journalFile, indexer.openedAt);
    for (let i = 0; i < missing.length; i += REPLAY_CHUNK)
      await indexer.index(missing.slice(i, i + REPLAY_CHUNK));
    journal.truncateIfIndexed(journal.chainHead.seq);
    return createSink(journal, indexer);
  } catch (error) {
    await indexer.close();
    throw error;
  }
}

/** Index writes are grouped: the journal already made events durable, so the index may trail by a moment. */
const INDEX_DELAY_MS = 25;
const INDEX_MAX_EVENTS = 2000;

function createSink(journal: AuditJournal, indexer: AuditIndexer): SqliteAuditSink {
  let failure: LatchError | undefined;
  let queued: HashedEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const inFlight = new Set<Promise<void>>();

  // Each wake-up of the index thread costs a context switch on a busy machine; one per INDEX_DELAY_MS is plenty.
  const sendQueued = () => {
    clearTimeout(timer);
    timer = undefined;
    if (queued.length === 0) return;
    const batch = queued;
    queued = [];
    const lastSeq = batch[batch.length - 1]!.seq;
    const indexed = indexer.index(batch).then(
      () => journal.indexedUpTo(lastSeq),
      (error: unknown) => {
        failure ??= new LatchError("audit_unavailable", {}, { cause: error });
      },
    );
    inFlight.add(indexed);
    void indexed.finally(() => inFlight.delete(indexed));
  };

  return {
    // The journal write is synchronous (one write(2), no thread hop): durable when this returns.
    // Success returns nothing (no promise per group on the statement path); a failure is a rejection, as the
    // interface says.
    append(events) {
      if (failure !== undefined) return Promise.reject(failure);
      let hashed: HashedEvent[];
      try {
        hashed = journal.append(events);
      } catch (error) {
        return Promise.reject(error);
      }
      for (const event of hashed) queued.push(event);
      if (queued.length >= INDEX_MAX_EVENTS) sendQueued();
      else timer ??= setTimeout(sendQueued, INDEX_DELAY_MS);
    },
    head: () => journal.chainHead,
    async flush() {
      sendQueued();
      while (inFlight.size > 0) await Promise.all(inFlight);
      if (failure !== undefined) throw failure;
    },
    async check() {
      if (failure !== undefined) throw failure;
      await indexer.check();
    },
    async close() {
      sendQueued();
      await Promise.allSettled(inFlight);
      journal.close();
      await indexer.close();
    },
  };
}
