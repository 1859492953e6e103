import Database from "better-sqlite3";
import { LatchError } from "../errors.js";

export interface WriterLock {
  release(): void;
}

/**
 * Makes this process the only writer of a SQLite store. The store keeps its chain head in memory, so a second
 * writer would fork the chain (it would fail on the seq primary key, but only after both accepted traffic).
 *
 * The lock is an exclusive SQLite lock on a side file (`<store>.writer-lock`), held for the life of the
 * process. It is an OS file lock (fcntl), so the kernel drops it when the process dies, however it dies: no
 * stale lock files and no PID guessing. Readers (`latch audit verify`) never take it, so they work while a
 * gateway runs. Like SQLite itself this needs a local file system (fcntl locks are unreliable on NFS).
 * Several gateways sharing one audit log (HA) use the PostgreSQL store instead, not this one.
 */
export function acquireWriterLock(storeFile: string): WriterLock {
  const lockFile = `${storeFile}.writer-lock`;
  let lock: Database.Database | undefined;
  try {
    lock = new Database(lockFile, { timeout: 0 });
    lock.pragma("locking_mode = EXCLUSIVE");
    // BEGIN EXCLUSIVE takes the file lock now; the transaction stays open until release().
    lock.exec("BEGIN EXCLUSIVE");
  } catch (cause) {
    lock?.close();
    const busy = (cause as { code?: string }).code === "SQLITE_BUSY";
    throw new LatchError(
      "config_invalid",
      {
        detail: busy
          ? `store ${storeFile} is already open for writing by another Latch process (lock ${lockFile}); only one gateway may write a SQLite store (several replicas need store: postgres://...)`
          : `cannot lock store ${storeFile} for writing (${lockFile}): ${(cause as Error).message}`,
      },
      { cause },
    );
  }
  const held = lock;
  return {
    release() {
      if (held.open) held.close();
    },
  };
}
