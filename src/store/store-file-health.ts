import { accessSync, constants, existsSync } from "node:fs";
import path from "node:path";
import { isLatchError, LatchError } from "../errors.js";

/** Why a store write failed, in a few words for /healthz and logs: a code, never a path outside data_dir or a secret. */
const CAUSES: Readonly<Record<string, string>> = {
  ENOSPC: "disk full",
  SQLITE_FULL: "disk full",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EPERM: "a store file is not writable",
  EACCES: "a store file is not writable",
  SQLITE_READONLY: "a store file is not writable",
  SQLITE_CANTOPEN: "a store file cannot be opened",
  SQLITE_BUSY: "the store is locked",
  WORKER_EXITED: "the audit index thread stopped",
  STORE_FILE_REPLACED: "the store file was removed or replaced while open (restart to reopen it)",
  EIO: "I/O error",
};

/**
 * "disk full (SQLITE_FULL)", "latch.db-shm is not writable (EPERM)": the first cause in the chain that carries
 * a code (SQLite extended codes such as SQLITE_IOERR_WRITE count under their primary code).
 */
export function describeStoreFailure(error: unknown): string {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; depth++) {
    const { code, file } = current as { code?: unknown; file?: unknown };
    if (!isLatchError(current) && typeof code === "string") {
      if (typeof file === "string") return `${path.basename(file)} is not writable (${code})`;
      const primary = /^SQLITE_[A-Z]+/.exec(code)?.[0] ?? code;
      return `${CAUSES[code] ?? CAUSES[primary] ?? "write failed"} (${code})`;
    }
    current = current.cause;
  }
  return "write failed";
}

/**
 * Refuses to open a store whose files this process cannot write, naming the file and the fix. Without this, a
 * read-only `latch.db-shm` (chattr +i, a read-only mount, another owner) is a SIGBUS at the first write: SQLite
 * maps that file into memory, and the process dies without a log line.
 */
export function assertStoreFilesWritable(dbFile: string, journalFile: string): void {
  const dir = path.dirname(dbFile);
  const files = [
    dir,
    dbFile,
    `${dbFile}-wal`,
    `${dbFile}-shm`,
    `${dbFile}.writer-lock`,
    journalFile,
    `${journalFile}.old`,
  ];
  for (const file of files) {
    if (!existsSync(file)) continue;
    try {
      accessSync(file, constants.W_OK);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? "EACCES";
      throw new LatchError(
        "config_invalid",
        {
          detail: `store file ${file} is not writable (${code}); the gateway needs to write every file in data_dir: make it writable by the user Latch runs as (uid ${process.getuid?.() ?? "?"}) — chown/chmod it, clear an immutable flag (chattr -i), or remount the file system read-write — then start again`,
        },
        { cause },
      );
    }
  }
}
