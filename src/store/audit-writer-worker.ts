import { accessSync, constants, existsSync } from "node:fs";
import path from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import type { HashedEvent } from "../audit/event-hash.js";
import { createSqliteStore } from "./sqlite-store.js";
import { createStoreFileGuard, type StoreFileGuard } from "./store-file-health.js";
import { lowerThreadPriority } from "./thread-priority.js";

/**
 * Worker entry: owns the only writable connection to the SQLite index of the audit log, so SQLite commits
 * run off the gateway's event loop. Events arrive already hashed and durable (audit journal); requests are
 * processed strictly in arrival order, which is the order of the chain. A retry may resend events the index
 * already holds (a reply lost with a thread): those are skipped, so indexing is idempotent.
 */
type Request =
  | { readonly id: number; readonly op: "index"; readonly events: readonly HashedEvent[] }
  | { readonly id: number; readonly op: "check" }
  | { readonly id: number; readonly op: "close" };

const port = parentPort;
if (port === null) throw new Error("audit-writer-worker must run in a worker thread");

const file = (workerData as { file: string }).file;
// The index trails the durable journal by design, so its commits yield the core to client traffic.
const priority = lowerThreadPriority();
let store: ReturnType<typeof createSqliteStore> | undefined;
/** Made once the store is open: the first connection may truncate and regrow the -shm. */
let guard: StoreFileGuard | undefined;

/**
 * SQLite maps `-shm` into memory: once that file cannot be written (chattr +i, a read-only mount), the next
 * write to the mapping is a SIGBUS that kills the whole process without a log line. One access(2) per file
 * before each write turns that into an error the sink reports and retries.
 */
function assertWritable(): void {
  for (const name of [file, `${file}-wal`, `${file}-shm`]) {
    if (!existsSync(name)) continue;
    try {
      accessSync(name, constants.W_OK);
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? "EACCES";
      throw Object.assign(new Error(`${path.basename(name)} is not writable (${code})`), {
        code,
        file: path.basename(name),
      });
    }
  }
  // A -shm truncated while mapped faults on any access, reads included: refused before the mapping is touched.
  guard?.check();
}

try {
  assertWritable();
  store = createSqliteStore(file);
  guard = createStoreFileGuard(file);
  port.postMessage({ id: 0, ok: true, head: store.head(), priority });
} catch (error) {
  port.postMessage({ id: 0, ok: false, message: (error as Error).message, ...failureCode(error) });
}

port.on("message", (request: Request) => {
  if (store === undefined) {
    port.postMessage({ id: request.id, ok: false, message: "store is not open" });
    return;
  }
  try {
    if (request.op === "index") {
      assertWritable();
      const head = store.head().seq;
      const events = request.events.filter((event) => event.seq > head);
      if (events.length > 0) store.appendHashed(events);
    } else if (request.op === "check") {
      assertWritable();
      store.check();
    } else {
      // Closing checkpoints the WAL through the -shm mapping: with an unwritable -shm that is the SIGBUS the
      // checks above avoid. The connection is then left to the thread's end (the OS releases file and lock).
      let writable = true;
      try {
        assertWritable();
      } catch {
        writable = false;
      }
      if (writable) store.close();
      store = undefined;
      port.postMessage({ id: request.id, ok: true });
      port.close();
      return;
    }
    port.postMessage({ id: request.id, ok: true });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    port.postMessage({
      id: request.id,
      ok: false,
      message: cause?.message ?? (error as Error).message,
      ...failureCode(cause ?? error),
    });
  }
});

/** The SQLite or errno code of a failure (SQLITE_FULL, EPERM) and the file it concerns, for the sink's reason. */
function failureCode(error: unknown): { code?: string; file?: string } {
  const { code, file: concerned } = (error ?? {}) as { code?: unknown; file?: unknown };
  return {
    ...(typeof code === "string" ? { code } : {}),
    ...(typeof concerned === "string" ? { file: concerned } : {}),
  };
}
