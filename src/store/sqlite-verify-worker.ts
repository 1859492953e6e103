import { parentPort, workerData } from "node:worker_threads";
import { openSqliteAuditQueries } from "./sqlite-audit-reader.js";

/**
 * Worker entry: recomputes the hash chain of one SQLite store on a read-only connection of its own and posts
 * the report back, so a long verification never runs on the gateway's event loop. One verification per worker.
 */
const port = parentPort;
if (port === null) throw new Error("sqlite-verify-worker must run in a worker thread");

try {
  const { file, journalFile } = workerData as { file: string; journalFile?: string };
  const queries = openSqliteAuditQueries(file, { journalFile });
  try {
    port.postMessage({ ok: true, report: queries.verifyChain() });
  } finally {
    queries.close();
  }
} catch (error) {
  const cause = (error as Error & { cause?: Error }).cause;
  port.postMessage({ ok: false, message: cause?.message ?? (error as Error).message });
}
