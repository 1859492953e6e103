import path from "node:path";
import type { ChainVerificationReport } from "../audit/verify-chain.js";
import { createLocalClusterEvents } from "../cluster/cluster-events.js";
import type { LatchConfig } from "../config/schema.js";
import { LatchError } from "../errors.js";
import { ownerOnlyDataDir } from "./owner-only.js";
import { openPostgresStores } from "./postgres/open-postgres-stores.js";
import { postgresStoreConfig } from "./postgres/pg-store-config.js";
import { createSqliteApprovalStore } from "./sqlite-approvals.js";
import { openSqliteAuditReader } from "./sqlite-audit-reader.js";
import { createSqliteAuditRetention } from "./sqlite-audit-retention.js";
import { openSqliteAuditSink } from "./sqlite-audit-sink.js";
import { createSqliteConsoleSessionStore } from "./sqlite-console-sessions.js";
import { createSqliteExportCursors } from "./sqlite-export-cursors.js";
import { createSqliteLiveSessionStore } from "./sqlite-live-sessions.js";
import { createSqliteMcpToolPinStore } from "./sqlite-mcp-tool-pins.js";
import { createSqlitePendingSignInStore } from "./sqlite-pending-sign-ins.js";
import { createSqlitePrincipalBlockStore } from "./sqlite-principal-blocks.js";
import { createSqliteSamlAssertionClaims } from "./sqlite-saml-assertion-claims.js";
import type { AuditReader } from "./store.js";
import type { Stores } from "./stores.js";
import { refuseBrokenReport, refuseUnverifiedStore, storeIsCurrent } from "./verify-at-start.js";

export const SQLITE_STORE_FILE = "latch.db";
export const AUDIT_JOURNAL_FILE = "audit.journal";

/** Where the embedded store lives: `<data_dir>/latch.db`. */
export function sqliteStorePath(config: Pick<LatchConfig, "data_dir">): string {
  return path.join(config.data_dir, SQLITE_STORE_FILE);
}

/** Throws unless the config names the embedded SQLite store (for commands that only it supports so far). */
export function assertSqliteStore(config: Pick<LatchConfig, "store">, command: string): void {
  if (config.store !== "sqlite") {
    throw new LatchError("config_invalid", {
      detail: `${command} works on the embedded SQLite store only so far; this config names a PostgreSQL store`,
    });
  }
}

/**
 * Opens every store the config names, for the gateway. `store: sqlite` (the default): one SQLite file under
 * data_dir (created owner-only: it holds the audit log) plus the audit journal beside it, written by this
 * process only. `store: postgres://...`: the PostgreSQL store several replicas share (store/postgres/).
 * Either way the audit store is verified before the gateway writes to it, and a store that does not verify is
 * refused (audit_chain_broken).
 */
export async function openStores(
  config: Pick<LatchConfig, "store" | "data_dir">,
  options: OpenStoresOptions = {},
): Promise<Stores> {
  const postgres = postgresStoreConfig(config.store);
  if (postgres === undefined) return openSqliteStores(config.data_dir, options);
  const started = Date.now();
  const stores = await openPostgresStores(postgres, { gatewayId: options.gatewayId ?? "unnamed" });
  try {
    const report = await stores.auditReader.verifyChain();
    refuseBrokenReport(report);
    options.onVerified?.(report, Date.now() - started);
    return stores;
  } catch (error) {
    await stores.close();
    throw error;
  }
}

export interface OpenStoresOptions {
  /** This gateway's id (credentials/gateway-id.ts): the origin of the cluster events it publishes. */
  readonly gatewayId?: string;
  /** Told once the audit store verified at start, with how long that took. */
  readonly onVerified?: (report: ChainVerificationReport, elapsedMs: number) => void;
}

/** The embedded implementation of `Stores` under `dataDir`. */
export async function openSqliteStores(dataDir: string, options: OpenStoresOptions = {}): Promise<Stores> {
  ownerOnlyDataDir(dataDir, [SQLITE_STORE_FILE, `${SQLITE_STORE_FILE}.writer-lock`, AUDIT_JOURNAL_FILE]);
  const file = path.join(dataDir, SQLITE_STORE_FILE);
  const journalFile = path.join(dataDir, AUDIT_JOURNAL_FILE);
  // Verified before anything writes to it (journal replay included), unless it must be created or migrated first.
  const started = Date.now();
  const verifiedFirst = storeIsCurrent(file);
  const verified = verifiedFirst ? await refuseUnverifiedStore(file, journalFile) : undefined;
  // The audit sink first: it takes the writer lock and migrates the file the side connections then share.
  const audit = await openSqliteAuditSink(file, journalFile);
  const opened: { close(): void }[] = [];
  try {
    options.onVerified?.(verified ?? (await refuseUnverifiedStore(file, journalFile)), Date.now() - started);
    const reader = openSqliteAuditReader(file, { journalFile });
    opened.push(reader);
    // The index trails the journal by a moment; a read first lets it catch up with every acknowledged append,
    // so the admin API never misses an event (a session that just started) the gateway already acted on.
    const caughtUp = <T>(read: () => Promise<T>): Promise<T> => audit.flush().then(read, read); // a failed index is reported by check(); read what it holds
    const auditReader: AuditReader = {
      listSessions: (filter) => caughtUp(() => reader.listSessions(filter)),
      getSession: (id) => caughtUp(() => reader.getSession(id)),
      events: (filter) => caughtUp(() => reader.events(filter)),
      verifyChain: () => caughtUp(() => reader.verifyChain()),
    };
    const approvals = createSqliteApprovalStore(file);
    opened.push(approvals);
    const blocks = createSqlitePrincipalBlockStore(file);
    opened.push(blocks);
    const liveSessions = createSqliteLiveSessionStore(file);
    opened.push(liveSessions);
    const consoleSessions = createSqliteConsoleSessionStore(file);
    opened.push(consoleSessions);
    const pendingSignIns = createSqlitePendingSignInStore(file);
    opened.push(pendingSignIns);
    const samlAssertionClaims = createSqliteSamlAssertionClaims(file);
    opened.push(samlAssertionClaims);
    const mcpToolPins = createSqliteMcpToolPinStore(file);
    opened.push(mcpToolPins);
    const exportCursors = createSqliteExportCursors(file);
    opened.push(exportCursors);
    const retention = createSqliteAuditRetention(file);
    opened.push(retention);
    let closing: Promise<void> | undefined;
    return {
      audit,
      auditReader,
      approvals,
      blocks,
      liveSessions,
      consoleSessions,
      pendingSignIns,
      samlAssertionClaims,
      mcpToolPins,
      exportCursors,
      retention,
      events: createLocalClusterEvents(),
      check: () => audit.check(),
      health: () => audit.health(),
      close() {
        closing ??= (async () => {
          for (const store of opened.reverse()) store.close();
          await audit.close();
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const store of opened.reverse()) store.close();
    await audit.close();
    throw error;
  }
}
