import type { HashedEvent } from "../audit/event-hash.js";
import type { ChainHead } from "../audit/verify-chain.js";
import { LatchError } from "../errors.js";
import type { ThreadPriorityResult } from "./thread-priority.js";
import { startStoreWorker } from "./worker-thread.js";

/** The SQLite index of the audit log, written by a worker thread. */
export interface AuditIndexer {
  /** The index's chain head when it was opened. */
  readonly openedAt: ChainHead;
  /** What lowering the thread's priority did (or why it did not): for /healthz-style diagnostics and tests. */
  readonly priority?: ThreadPriorityResult;
  index(events: readonly HashedEvent[]): Promise<void>;
  /** Rejects if the store cannot be written (for /healthz). */
  check(): Promise<void>;
  /** True once the thread has exited or crashed: every request then rejects, and a new indexer is needed. */
  isDead(): boolean;
  close(): Promise<void>;
}

/** Why the index refused a write: the SQLite or errno code (SQLITE_FULL, EPERM) and the file, when known. */
export interface IndexFailure {
  readonly code?: string;
  readonly file?: string;
}

interface Reply {
  readonly id: number;
  readonly ok: boolean;
  readonly message?: string;
  readonly code?: string;
  readonly file?: string;
  readonly head?: ChainHead;
  readonly priority?: ThreadPriorityResult;
}

const failureOf = (reply: Reply): IndexFailure => ({
  ...(reply.code === undefined ? {} : { code: reply.code }),
  ...(reply.file === undefined ? {} : { file: reply.file }),
});

/**
 * Starts the audit index thread over the SQLite file. Resolves once the store is open (writer lock taken,
 * chain head checked), or rejects with the store's own error.
 */
export function startAuditIndexer(file: string): Promise<AuditIndexer> {
  const worker = startStoreWorker("audit-writer-worker", { file });
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let nextId = 1;
  let dead: Error | undefined;

  const failAll = (error: Error) => {
    dead ??= error;
    for (const waiter of pending.values()) waiter.reject(dead);
    pending.clear();
  };
  const send = (message: Record<string, unknown>): Promise<void> => {
    if (dead !== undefined) return Promise.reject(dead);
    const id = nextId++;
    return new Promise<void>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...message, id });
    });
  };

  return new Promise((resolveStart, rejectStart) => {
    worker.on("message", (reply: Reply) => {
      if (reply.id === 0) {
        if (reply.ok)
          resolveStart({
            ...writer,
            openedAt: reply.head!,
            ...(reply.priority === undefined ? {} : { priority: reply.priority }),
          });
        else {
          void worker.terminate();
          rejectStart(
            new LatchError(
              "config_invalid",
              { detail: reply.message ?? "cannot open the audit store" },
              { cause: Object.assign(new Error(reply.message), failureOf(reply)) },
            ),
          );
        }
        return;
      }
      const waiter = pending.get(reply.id);
      pending.delete(reply.id);
      if (reply.ok) waiter?.resolve();
      else
        waiter?.reject(
          new LatchError(
            "audit_unavailable",
            {},
            { cause: Object.assign(new Error(reply.message), failureOf(reply)) },
          ),
        );
    });
    worker.on("error", (error) => {
      failAll(new LatchError("audit_unavailable", {}, { cause: error }));
      rejectStart(error);
    });
    worker.on("exit", (code) => {
      failAll(
        new LatchError(
          "audit_unavailable",
          {},
          { cause: Object.assign(new Error(`audit writer exited (${code})`), { code: "WORKER_EXITED" }) },
        ),
      );
      rejectStart(new LatchError("config_invalid", { detail: `the audit writer thread exited (${code})` }));
    });
    const writer: Omit<AuditIndexer, "openedAt"> = {
      index: (events) => (events.length === 0 ? Promise.resolve() : send({ op: "index", events })),
      check: () => send({ op: "check" }),
      isDead: () => dead !== undefined,
      async close() {
        if (dead === undefined) await send({ op: "close" }).catch(() => undefined);
        await worker.terminate();
      },
    };
  });
}
