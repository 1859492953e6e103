import pg from "pg";
import type { Logger } from "pino";
import type { LatchConfig, PostgresConnectionConfig } from "../../config/schema.js";
import { resolveSecret } from "../../config/secrets.js";
import { compileMaskingProfiles } from "../../masking/masking-profile.js";
import { ValueMasker } from "../../masking/value-masker.js";
import { ColumnProvenance, createPgCatalogLookup } from "../../sql/postgres/column-provenance.js";
import { RowMasking } from "./row-masking.js";

export interface McpConnectionMasking {
  readonly rows: RowMasking;
  readonly text: ValueMasker;
  close(): Promise<void>;
}

/**
 * Masking of one PostgreSQL connection for MCP results: its compiled profiles (a bad profile stops the
 * gateway at start) and, when it has column rules, a small catalog pool with the connection's own credential
 * that resolves column provenance. Undefined when the connection masks nothing.
 */
export function createMcpConnectionMasking(
  name: string,
  connection: PostgresConnectionConfig,
  config: LatchConfig,
  log: Logger,
): McpConnectionMasking | undefined {
  const profile = compileMaskingProfiles(connection.masking, config.masking);
  if (!profile.active) return undefined;
  let pool: pg.Pool | undefined;
  let provenance: ColumnProvenance | undefined;
  if (profile.columns.size > 0) {
    const url = new URL(connection.upstream);
    const activePool = new pg.Pool({
      host: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port === "" ? 5432 : Number(url.port),
      user: decodeURIComponent(url.username),
      database: decodeURIComponent(url.pathname.replace(/^\//, "")) || undefined,
      password:
        connection.password === undefined
          ? undefined
          : () => resolveSecret(connection.password!, `connection ${name}`),
      ssl: connection.tls === "disable" ? false : { rejectUnauthorized: connection.tls === "verify-full" },
      max: 2,
      idleTimeoutMillis: 30_000,
      application_name: "latch-mcp-catalog",
    });
    activePool.on("error", (error) =>
      log.warn({ err: error, connection: name }, "MCP masking catalog connection failed"),
    );
    pool = activePool;
    provenance = new ColumnProvenance(createPgCatalogLookup((sql, params) => activePool.query(sql, params)));
  }
  return {
    rows: new RowMasking(profile, provenance),
    text: new ValueMasker(profile.detectors),
    async close() {
      await pool?.end().catch(() => undefined);
    },
  };
}
