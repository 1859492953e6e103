import path from "node:path";
import type { LatchConfig } from "../config/schema.js";
import { AUDIT_JOURNAL_FILE, sqliteStorePath } from "./open-stores.js";
import { describeStore } from "./postgres/open-postgres-stores.js";
import { createPgAuditReader } from "./postgres/pg-audit-reader.js";
import { createPgStorePool, postgresStoreConfig } from "./postgres/pg-store-config.js";
import { openSqliteAuditReader } from "./sqlite-audit-reader.js";
import type { AuditReader } from "./store.js";

/** A read-only view of the audit log the config names, for the CLI; it never migrates or writes. */
export interface OpenedAuditReader {
  readonly reader: AuditReader;
  /** Where it reads: a file, or host:port/database. */
  readonly where: string;
  close(): Promise<void>;
}

export function openAuditReader(config: Pick<LatchConfig, "store" | "data_dir">): OpenedAuditReader {
  const postgres = postgresStoreConfig(config.store);
  if (postgres === undefined) {
    const file = sqliteStorePath(config);
    const reader = openSqliteAuditReader(file, {
      journalFile: path.join(config.data_dir, AUDIT_JOURNAL_FILE),
    });
    return { reader, where: file, close: async () => reader.close() };
  }
  const pool = createPgStorePool({ ...postgres, pool_size: 2 });
  return { reader: createPgAuditReader(pool), where: describeStore(postgres.url), close: () => pool.end() };
}
