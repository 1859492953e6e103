import { parentPort, workerData } from "node:worker_threads";
import type { HashedEvent } from "../audit/event-hash.js";
import { createSqliteStore } from "./sqlite-store.js";

/**
 * Worker entry: owns the only writable connection to the SQLite index of the audit log, so SQLite commits
 * run off the gateway's event loop. Events arrive already hashed and durable (audit journal); requests are
 * processed strictly in arrival order, which is the order of the chain.
 */
type Request =
  | { readonly id: number; readonly op: "index"; readonly events: readonly HashedEvent[] }
  | { readonly id: number; readonly op: "check" }
  | { readonly id: number; readonly op: "close" };

const port = parentPort;
if (port === null) throw new Error("audit-writer-worker must run in a worker thread");

let store: ReturnType<typeof createSqliteStore> | undefined;
try {
  store = createSqliteStore((workerData as { file: string }).file);
  port.postMessage({ id: 0, ok: true, head: store.head() });
} catch (error) {
  port.postMessage({ id: 0, ok: false, message: (error as Error).message });
}

port.on("message", (request: Request) => {
  if (store === undefined) {
    port.postMessage({ id: request.id, ok: false, message: "store is not open" });
    return;
  }
  try {
    if (request.op === "index") store.appendHashed(request.events);
    else if (request.op === "check") store.check();
    else {
      store.close();
      store = undefined;
      port.postMessage({ id: request.id, ok: true });
      port.close();
      return;
    }
    port.postMessage({ id: request.id, ok: true });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    port.postMessage({ id: request.id, ok: false, message: cause?.message ?? (error as Error).message });
  }
});
