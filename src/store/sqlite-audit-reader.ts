import Database from "better-sqlite3";
import type { ChainVerificationReport } from "../audit/verify-chain.js";
import { LatchError } from "../errors.js";
import { createSqliteAuditQueries, type SqliteAuditQueries } from "./sqlite-audit-queries.js";
import { readSchemaVersion, SQLITE_SCHEMA_VERSION } from "./sqlite-migrations.js";
import type { AuditReader } from "./store.js";
import { createStoreFileGuard } from "./store-file-health.js";
import { startStoreWorker } from "./worker-thread.js";

export interface SqliteAuditReader extends AuditReader {
  close(): void;
}

export interface SqliteVerifyOptions {
  /** The audit journal beside the store: verification also checks it against the index. */
  readonly journalFile?: string;
}

/**
 * The read side of a SQLite store (the gateway's reader, `latch audit verify`/`search`): a read-only connection,
 * no writer lock, no migration, works while a gateway is writing the same file. Searches are short indexed
 * queries and answer from this connection. `verifyChain` reads and hashes every event, seconds for a large
 * log, so it runs in a worker thread of its own with its own connection: the gateway's event loop (every
 * session) keeps running meanwhile. Concurrent calls share one verification.
 *
 * Read-only or not, a connection writes latch.db-shm as it starts reading: every call first checks that this
 * cannot fault (store-file-health.ts) and rejects otherwise; `close` is skipped then.
 */
export function openSqliteAuditReader(file: string, options: SqliteVerifyOptions = {}): SqliteAuditReader {
  const db = openSqliteReadOnly(file);
  const guard = createStoreFileGuard(file);
  const queries = createSqliteAuditQueries(db);
  let running: Promise<ChainVerificationReport> | undefined;
  const answer = <T>(run: () => T): Promise<T> => {
    try {
      guard.check();
      return Promise.resolve(run());
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return {
    listSessions: (filter) => answer(() => queries.listSessions(filter)),
    getSession: (id) => answer(() => queries.getSession(id)),
    events: (filter) => answer(() => queries.events(filter)),
    verifyChain() {
      // The worker's own connection shares this process's mapping of latch.db-shm: checked before it starts.
      try {
        guard.check();
      } catch (error) {
        return Promise.reject(error);
      }
      running ??= verifyInWorker(file, options).finally(() => {
        running = undefined;
      });
      return running;
    },
    close() {
      if (guard.usable()) db.close();
    },
  };
}

/** Opens `file` read-only after checking it has this Latch's schema (an older file must be upgraded first). */
export function openSqliteReadOnly(file: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 5000");
    const version = readSchemaVersion(db, file);
    if (version !== SQLITE_SCHEMA_VERSION) {
      throw new LatchError("config_invalid", {
        detail: `store ${file} has schema version ${version}; start the gateway once to upgrade it to ${SQLITE_SCHEMA_VERSION}`,
      });
    }
    return db;
  } catch (cause) {
    db?.close();
    if (cause instanceof LatchError) throw cause;
    throw new LatchError(
      "config_invalid",
      { detail: `cannot open store ${file}: ${(cause as Error).message}` },
      { cause },
    );
  }
}

/** The synchronous queries over a read-only connection, for the verify worker. */
export function openSqliteAuditQueries(
  file: string,
  options: SqliteVerifyOptions = {},
): SqliteAuditQueries & { close(): void } {
  const db = openSqliteReadOnly(file);
  return { ...createSqliteAuditQueries(db, options), close: () => db.close() };
}

type VerifyReply =
  | { readonly ok: true; readonly report: ChainVerificationReport }
  | { readonly ok: false; readonly message: string };

/** Verifies in a worker thread of its own; also what the gateway runs before it opens the store for writing. */
export function verifyInWorker(
  file: string,
  options: SqliteVerifyOptions = {},
): Promise<ChainVerificationReport> {
  return new Promise((resolve, reject) => {
    const worker = startStoreWorker("sqlite-verify-worker", { file, journalFile: options.journalFile });
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      reject(new LatchError("audit_unavailable", {}, { cause: error }));
    };
    worker.once("message", (reply: VerifyReply) => {
      if (settled) return;
      settled = true;
      if (reply.ok) resolve(reply.report);
      else reject(new LatchError("audit_unavailable", {}, { cause: new Error(reply.message) }));
      void worker.terminate();
    });
    worker.once("error", fail);
    worker.once("exit", (code) => fail(new Error(`the verify worker exited (${code}) without an answer`)));
  });
}
