import { mkdirSync } from "node:fs";
import path from "node:path";
import { AuditJournal } from "../audit/audit-journal.js";
import type { LatchConfig } from "../config/schema.js";
import { LatchError } from "../errors.js";
import { type AuditIndexer, startAuditIndexer } from "./audit-indexer-thread.js";
import { assertSqliteStore, sqliteStorePath } from "./open-store.js";
import { type HashedEvent, openSqliteAuditReader } from "./sqlite-store.js";
import type { AuditEventInput, AuditReader } from "./store.js";

/** The gateway's write side of the audit log. */
export interface DurableAuditLog {
  /** Synchronous: the events are chained and durable when this returns. Throws on any failure (deny). */
  append(events: readonly AuditEventInput[]): void;
  /** Resolves when the queryable index holds everything appended so far. */
  flush(): Promise<void>;
  /** Rejects if the log cannot be written (for /healthz). */
  check(): Promise<void>;
  close(): Promise<void>;
}

const REPLAY_CHUNK = 500;

/**
 * Journal (durability, on the event loop, one write per group) + SQLite index (queries, in a worker thread).
 * If the index ever fails, the log refuses further appends: operations are denied until a restart replays the
 * journal into the index.
 */
export async function openGatewayAuditLog(
  config: LatchConfig,
): Promise<{ log: DurableAuditLog; reader: AuditReader & { close(): void } }> {
  assertSqliteStore(config);
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  const dbFile = sqliteStorePath(config);
  const indexer = await startAuditIndexer(dbFile);
  try {
    const { journal, missing } = AuditJournal.open(
      path.join(config.data_dir, "audit.journal"),
      indexer.openedAt,
    );
    for (let i = 0; i < missing.length; i += REPLAY_CHUNK)
      await indexer.index(missing.slice(i, i + REPLAY_CHUNK));
    journal.truncateIfIndexed(journal.chainHead.seq);
    return { log: createLog(journal, indexer), reader: openSqliteAuditReader(dbFile) };
  } catch (error) {
    await indexer.close();
    throw error;
  }
}

/** Index writes are grouped: the journal already made events durable, so the index may trail by a moment. */
const INDEX_DELAY_MS = 25;
const INDEX_MAX_EVENTS = 2000;

function createLog(journal: AuditJournal, indexer: AuditIndexer): DurableAuditLog {
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
    append(events) {
      if (failure !== undefined) throw failure;
      const hashed = journal.append(events);
      for (const event of hashed) queued.push(event);
      if (queued.length >= INDEX_MAX_EVENTS) sendQueued();
      else timer ??= setTimeout(sendQueued, INDEX_DELAY_MS);
    },
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
