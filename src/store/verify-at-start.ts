import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import type { ChainVerificationReport } from "../audit/verify-chain.js";
import { LatchError } from "../errors.js";
import { verifyInWorker } from "./sqlite-audit-reader.js";
import { SQLITE_SCHEMA_VERSION } from "./sqlite-migrations.js";

/**
 * Verifies the whole store (chain, sessions index, journal) in a worker thread and refuses to go on when it does
 * not verify: writing after a broken chain would bury the break under new, valid-looking events. The error names
 * the part, the first bad event and the two ways on (restore, or `latch audit new-segment`).
 */
export async function refuseUnverifiedStore(
  file: string,
  journalFile: string | undefined,
): Promise<ChainVerificationReport> {
  const report = await verifyInWorker(file, { journalFile });
  refuseBrokenReport(report);
  return report;
}

/** Throws audit_chain_broken, naming the part and first bad event, unless the report is ok. */
export function refuseBrokenReport(report: ChainVerificationReport): void {
  if (report.ok) return;
  throw new LatchError("audit_chain_broken", {
    part: report.part ?? "chain",
    seq: report.firstBadSeq ?? 0,
    problem: report.problem ?? "unknown",
  });
}

/**
 * True when `file` exists with this Latch's schema, so it can be verified read-only before anything writes to
 * it (journal replay included). A new file or one still to be migrated is verified right after it is opened.
 */
export function storeIsCurrent(file: string): boolean {
  if (!existsSync(file)) return false;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    return db.pragma("user_version", { simple: true }) === SQLITE_SCHEMA_VERSION;
  } catch {
    return false; // opening for writing reports what is wrong with it
  } finally {
    db?.close();
  }
}
