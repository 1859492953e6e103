import type pg from "pg";
import type { ChainHead } from "../../audit/verify-chain.js";
import type { PostgresStoreConfig } from "../../config/schema.js";
import { LatchError } from "../../errors.js";
import type { Stores } from "../stores.js";
import { createPgApprovalStore } from "./pg-approvals.js";
import { createPgAuditReader } from "./pg-audit-reader.js";
import { createPgAuditRetention } from "./pg-audit-retention.js";
import { createPgAuditSink, readPgChainHead } from "./pg-audit-sink.js";
import { createPgClusterEvents } from "./pg-cluster-events.js";
import { createPgConsoleSessionStore } from "./pg-console-sessions.js";
import { createPgExportCursors } from "./pg-export-cursors.js";
import { createPgLiveSessionStore } from "./pg-live-sessions.js";
import { createPgMcpToolPinStore } from "./pg-mcp-tool-pins.js";
import { migratePgStore } from "./pg-migrations.js";
import { createPgPendingSignInStore } from "./pg-pending-sign-ins.js";
import { createPgPrincipalBlockStore } from "./pg-principal-blocks.js";
import { createPgSamlAssertionClaims } from "./pg-saml-assertion-claims.js";
import { createPgStorePool } from "./pg-store-config.js";

/**
 * Every store on one PostgreSQL database shared by several replicas: one pool per replica, the schema migrated
 * at start under an advisory lock. `pool` may be given (tests); otherwise it is made from the config.
 */
export async function openPostgresStores(
  store: PostgresStoreConfig,
  options: { pool?: pg.Pool; gatewayId: string },
): Promise<Stores & { events: ReturnType<typeof createPgClusterEvents> }> {
  const pool = options.pool ?? createPgStorePool(store);
  let headAtOpen: ChainHead;
  try {
    await migratePgStore(pool);
    headAtOpen = await readPgChainHead(pool);
  } catch (error) {
    await pool.end().catch(() => undefined);
    if (error instanceof LatchError) throw error;
    throw new LatchError(
      "config_invalid",
      {
        detail: `cannot open the PostgreSQL store at ${describeStore(store.url)}: ${(error as Error).message}`,
      },
      { cause: error },
    );
  }
  const audit = createPgAuditSink(pool, headAtOpen);
  const events = createPgClusterEvents(pool, { gatewayId: options.gatewayId });
  // Listening before serving: an announcement made before this gateway listens is history, so a session that
  // opened meanwhile would miss a kill or a block meant for it.
  try {
    await withTimeout(
      events.ready(),
      LISTEN_READY_MS,
      "the store accepted queries but not a LISTEN connection",
    );
  } catch (error) {
    await events.close();
    await pool.end().catch(() => undefined);
    throw new LatchError(
      "config_invalid",
      {
        detail: `cannot open the PostgreSQL store at ${describeStore(store.url)}: ${(error as Error).message}`,
      },
      { cause: error },
    );
  }
  let closing: Promise<void> | undefined;
  return {
    audit,
    auditReader: createPgAuditReader(pool),
    approvals: createPgApprovalStore(pool),
    blocks: createPgPrincipalBlockStore(pool),
    liveSessions: createPgLiveSessionStore(pool),
    consoleSessions: createPgConsoleSessionStore(pool),
    pendingSignIns: createPgPendingSignInStore(pool),
    samlAssertionClaims: createPgSamlAssertionClaims(pool),
    mcpToolPins: createPgMcpToolPinStore(pool),
    exportCursors: createPgExportCursors(pool, { holder: options.gatewayId }),
    retention: createPgAuditRetention(pool),
    events,
    check: () => audit.check(),
    health: () => audit.health(),
    close() {
      closing ??= (async () => {
        await events.close();
        await audit.close();
        await pool.end();
      })();
      return closing;
    },
  };
}

const LISTEN_READY_MS = 10_000;

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** host:port/database of a store URL, for messages (the URL has no password; this drops the user too). */
export function describeStore(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname}`;
  } catch {
    return "(unparsable URL)";
  }
}
