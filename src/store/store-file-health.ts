import { accessSync, constants, existsSync, statSync } from "node:fs";
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
  STORE_FILE_TRUNCATED: "latch.db-shm was truncated while open (restart to rebuild it)",
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
      throw unwritableStoreFile(file, cause);
    }
  }
}

/**
 * The start-up refusal for a store file the gateway cannot write or chmod: the file, its owner against the
 * gateway's user, and the three usual fixes.
 */
export function unwritableStoreFile(file: string, cause: unknown): LatchError {
  const code = (cause as NodeJS.ErrnoException).code ?? "EACCES";
  const me = process.getuid?.();
  const owner = statSync(file, { throwIfNoEntry: false })?.uid;
  // A file that does not exist yet cannot be created: its directory is what needs fixing.
  const target = owner === undefined ? path.dirname(file) : file;
  const ownership =
    owner === undefined
      ? `; it does not exist and cannot be created in ${target}`
      : me === undefined
        ? ""
        : owner === me
          ? `; it is owned by the gateway's user (uid ${me})`
          : `; it is owned by uid ${owner}, the gateway runs as uid ${me}`;
  return new LatchError(
    "config_invalid",
    {
      detail: `store file ${file} is not writable (${code})${ownership}; the gateway needs to write every file in data_dir: make it writable by the user Latch runs as — chown ${me ?? "<gateway user>"} ${target}, clear an immutable flag (chattr -i ${target}), or remount the file system read-write — then start again`,
    },
    { cause },
  );
}

/**
 * Checks, before each use of a SQLite connection, that touching `latch.db-shm` cannot fault. SQLite maps that
 * file into memory and writes it on every transaction, reads included (a reader records its snapshot there):
 * once the file is immutable, on a read-only mount or cut shorter than its mapping (truncate -s 0), that access
 * is a SIGBUS that kills the whole process without a log line. A failed check is an error with `code` (and
 * `file`), which `describeStoreFailure` turns into a reason; the caller refuses instead of faulting.
 *
 * A check is one access(2) and one stat(2), about 2 µs. It cannot close the window between the check and the
 * statement, a few microseconds.
 */
export interface StoreFileGuard {
  /** Throws if the connection must not be used now. */
  check(): void;
  /** `check` as a boolean: closing an unusable connection would fault too, so `close` is skipped then. */
  usable(): boolean;
}

export function createStoreFileGuard(dbFile: string): StoreFileGuard {
  const shm = `${dbFile}-shm`;
  // A reader that could not write the file at open (`latch audit search` as another user) has it mapped
  // read-only by SQLite: it never writes it, so only a truncation can fault.
  const writes = isWritable(shm);
  // SQLite only ever grows the file while a connection of this process has it open; smaller means cut.
  let mapped = statSync(shm, { throwIfNoEntry: false })?.size ?? 0;
  const check = (): void => {
    const size = statSync(shm, { throwIfNoEntry: false })?.size;
    if (size === undefined) return; // removed while open: the mapping keeps its own inode, nothing faults
    if (writes) {
      try {
        accessSync(shm, constants.W_OK);
      } catch (cause) {
        const code = (cause as NodeJS.ErrnoException).code ?? "EACCES";
        throw Object.assign(new Error(`${path.basename(shm)} is not writable (${code})`, { cause }), {
          code,
          file: path.basename(shm),
        });
      }
    }
    if (size < mapped) {
      throw Object.assign(new Error(`${path.basename(shm)} was truncated to ${size} bytes while open`), {
        code: "STORE_FILE_TRUNCATED",
      });
    }
    mapped = size;
  };
  return {
    check,
    usable() {
      try {
        check();
        return true;
      } catch {
        return false;
      }
    },
  };
}

function isWritable(file: string): boolean {
  try {
    accessSync(file, constants.W_OK);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT";
  }
}
