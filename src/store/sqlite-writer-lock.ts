import path from "node:path";
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
          ? writerBusyMessage(storeFile, lockFile)
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

/** What to do when another process holds the lock: the two situations that get here, and each one's fix. */
export function writerBusyMessage(storeFile: string, lockFile: string): string {
  const dataDir = path.dirname(storeFile);
  return (
    `store ${storeFile} is already open for writing by another Latch process (lock ${lockFile}). ` +
    `If another gateway already runs on data_dir ${dataDir}, stop it, or give this one its own data_dir. ` +
    "If several replicas are meant to share one audit log, they need a shared PostgreSQL store: " +
    "store: { url: postgres://user@host:5432/latch, password: { env: LATCH_STORE_PASSWORD } } " +
    "(docs/deployment.md, Several replicas)"
  );
}
