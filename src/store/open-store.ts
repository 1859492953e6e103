import { mkdirSync } from "node:fs";
import path from "node:path";
import type { LatchConfig } from "../config/schema.js";
import { LatchError } from "../errors.js";
import { createSqliteStore } from "./sqlite-store.js";
import type { Store } from "./store.js";

export const SQLITE_STORE_FILE = "latch.db";

/** Where the embedded store lives: `<data_dir>/latch.db`. */
export function sqliteStorePath(config: Pick<LatchConfig, "data_dir">): string {
  return path.join(config.data_dir, SQLITE_STORE_FILE);
}

/** Throws unless the config names the embedded SQLite store (the only one available so far). */
export function assertSqliteStore(config: Pick<LatchConfig, "store">): void {
  if (config.store !== "sqlite") {
    throw new LatchError("config_invalid", { detail: "store: postgres is not available yet; use sqlite" });
  }
}

/** Opens the store the config names, for writing. data_dir is created owner-only: it holds the audit log. */
export function openStore(config: LatchConfig): Store {
  assertSqliteStore(config);
  mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
  return createSqliteStore(sqliteStorePath(config));
}
