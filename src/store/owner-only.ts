import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import path from "node:path";

/**
 * data_dir holds the audit record, keys and the approval state: owner-only whatever the umask and whether the
 * directory already existed (mkdir's mode applies only to a directory it creates). SQLite files are created
 * 0600 before SQLite opens them, because SQLite gives its -wal, -shm and -journal files the database file's mode.
 */
export function ownerOnlyDataDir(dataDir: string, files: readonly string[]): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  chmodSync(dataDir, 0o700);
  for (const name of files) {
    const file = path.join(dataDir, name);
    if (!existsSync(file)) closeSync(openSync(file, "a", 0o600));
    chmodSync(file, 0o600);
    for (const companion of [`${file}-wal`, `${file}-shm`, `${file}-journal`, `${file}.old`])
      if (existsSync(companion)) chmodSync(companion, 0o600);
  }
}
