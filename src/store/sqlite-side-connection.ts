import Database from "better-sqlite3";
import { LatchError } from "../errors.js";
import { migrateSqliteStore } from "./sqlite-migrations.js";

/**
 * A second connection to latch.db for a side store (approvals, principal blocks): WAL, the same durability as
 * the audit index, migrated to the current schema. Failures become a config error naming the store.
 */
export function openSqliteSideConnection(
  file: string,
  what: string,
  options: { busyTimeoutMs?: number } = {},
): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    migrateSqliteStore(db, file);
    return db;
  } catch (cause) {
    db?.close();
    throw cause instanceof LatchError
      ? cause
      : new LatchError(
          "config_invalid",
          { detail: `cannot open ${what} ${file}: ${(cause as Error).message}` },
          { cause },
        );
  }
}
