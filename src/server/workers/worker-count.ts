import os from "node:os";
import type { LatchConfig } from "../../config/schema.js";
import { LatchError } from "../../errors.js";

/** `--workers` / `server.workers` as written: a count, or "auto". */
export type WorkersSetting = number | "auto";

/** Parses the `--workers` flag: a whole number from 1, or "auto". */
export function parseWorkersFlag(text: string): WorkersSetting {
  if (text === "auto") return "auto";
  const count = Number(text);
  if (!/^\d+$/.test(text) || !Number.isInteger(count) || count < 1 || count > 256)
    throw new LatchError("config_invalid", {
      detail: `--workers ${text}: give a whole number from 1 to 256, or auto (one per CPU)`,
    });
  return count;
}

/**
 * How many gateway processes serve: the flag wins over `server.workers`; "auto" is one per CPU the process may
 * use. More than one needs the PostgreSQL store: each worker is a full replica that appends to the store's one
 * audit chain, while the embedded SQLite store has one writer (an exclusive file lock on data_dir, and the
 * chain head kept in that process's memory), so a second process on it could only refuse to start.
 */
export function resolveWorkerCount(
  config: Pick<LatchConfig, "server" | "store">,
  flag: WorkersSetting | undefined,
  cpus: () => number = () => os.availableParallelism(),
): number {
  const setting = flag ?? config.server.workers;
  const count = setting === "auto" ? cpus() : setting;
  if (count > 1 && config.store === "sqlite")
    throw new LatchError("config_invalid", {
      detail: `${count} workers need a shared store: set store: postgres://... in latch.yaml (the embedded SQLite store has one writer, so only one gateway process can use it), or run with --workers 1`,
    });
  return count;
}
