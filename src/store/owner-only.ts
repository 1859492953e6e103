import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import path from "node:path";
import { unwritableStoreFile } from "./store-file-health.js";

/**
 * data_dir holds the audit record, keys and the approval state: owner-only whatever the umask and whether the
 * directory already existed (mkdir's mode applies only to a directory it creates). SQLite files are created
 * 0600 before SQLite opens them, because SQLite gives its -wal, -shm and -journal files the database file's mode.
 *
 * A mode already right is left alone, so a file that is merely unwritable (immutable, a read-only mount) reaches
 * the store's own check (`assertStoreFilesWritable`); one that must change and cannot is refused the same way,
 * naming the file, its owner and the fix, never as a bare EPERM from chmod.
 */
export function ownerOnlyDataDir(dataDir: string, files: readonly string[]): void {
  attempt(dataDir, () => mkdirSync(dataDir, { recursive: true, mode: 0o700 }));
  ownerOnly(dataDir, 0o700);
  for (const name of files) {
    const file = path.join(dataDir, name);
    if (statSync(file, { throwIfNoEntry: false }) === undefined)
      attempt(file, () => closeSync(openSync(file, "a", 0o600)));
    ownerOnly(file, 0o600);
    for (const companion of [`${file}-wal`, `${file}-shm`, `${file}-journal`, `${file}.old`])
      ownerOnly(companion, 0o600);
  }
}

/** Sets `mode` on an existing file unless it has it already. */
function ownerOnly(file: string, mode: number): void {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (stat === undefined || (stat.mode & 0o777) === mode) return;
  attempt(file, () => chmodSync(file, mode));
}

function attempt(file: string, run: () => void): void {
  try {
    run();
  } catch (cause) {
    throw unwritableStoreFile(file, cause);
  }
}
