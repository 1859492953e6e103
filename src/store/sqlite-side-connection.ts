import Database from "better-sqlite3";
import { LatchError } from "../errors.js";
import { migrateSqliteStore } from "./sqlite-migrations.js";
import { createStoreFileGuard } from "./store-file-health.js";

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

/**
 * A side store whose every method (`close` aside) checks the store files first (store-file-health.ts) and
 * rejects when the connection must not touch latch.db-shm, as the store interfaces say a store failure does;
 * the callers then refuse (a login with store_unavailable, an approval with 503). `close` is skipped then: it
 * may checkpoint through the same mapping, and the OS releases the connection at exit. Without this, the first
 * read after the index wrote (the approvals sweeper, every second) faulted on an immutable or truncated -shm.
 */
export function guardSideStore<T extends { close(): void }>(file: string, store: T): T {
  const guard = createStoreFileGuard(file);
  const guarded: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== "function") {
      guarded[name] = value;
      continue;
    }
    const method = value as (...args: unknown[]) => unknown;
    guarded[name] =
      name === "close"
        ? () => {
            if (guard.usable()) method.call(store);
          }
        : (...args: unknown[]) => {
            try {
              guard.check();
            } catch (error) {
              return Promise.reject(error);
            }
            return method.apply(store, args);
          };
  }
  return guarded as T;
}
