import pg from "pg";
import type { Logger } from "pino";
import type { LatchConfig, PostgresConnectionConfig } from "../../config/schema.js";
import { resolveSecret } from "../../config/secrets.js";
import { type CompiledMaskingProfile, compileMaskingProfiles } from "../../masking/masking-profile.js";
import { ColumnProvenance, createPgCatalogLookup } from "../../sql/postgres/column-provenance.js";
import { createResultMasker, type ResultMasker } from "./result-masker.js";
import { upstreamTarget } from "./upstream.js";

/**
 * Masking for one connection: its compiled profiles (validated at start-up, so a bad profile stops the
 * gateway) and a small pool on the same upstream, with the same injected credential, for catalog lookups
 * (table OID + attribute number -> column name). Column names are cached per connection and shared by its
 * sessions.
 */
export interface ConnectionMasking {
  /** A per-session masker, or undefined when the connection masks nothing. */
  createMasker(onFailure: (reason: string) => void): ResultMasker | undefined;
  /** The compiled profile (previews mask their sample rows with it). */
  readonly profile: CompiledMaskingProfile;
  close(): Promise<void>;
}

export function createConnectionMasking(
  name: string,
  connection: PostgresConnectionConfig,
  config: LatchConfig,
  log: Logger,
): ConnectionMasking {
  const profile: CompiledMaskingProfile = compileMaskingProfiles(connection.masking, config.masking);
  let pool: pg.Pool | undefined;
  let provenance: ColumnProvenance | undefined;
  const catalog = () => {
    if (provenance !== undefined) return provenance;
    const target = upstreamTarget(name, connection, 10_000);
    pool = new pg.Pool({
      host: target.host,
      port: target.port,
      user: target.user,
      database: target.database,
      password:
        connection.password === undefined
          ? undefined
          : () => resolveSecret(connection.password!, `connection ${name}`),
      ssl: connection.tls === "disable" ? false : { rejectUnauthorized: connection.tls === "verify-full" },
      max: 2,
      idleTimeoutMillis: 30_000,
      application_name: "latch-masking-catalog",
    });
    pool.on("error", (error) =>
      log.warn({ err: error, connection: name }, "masking catalog connection failed"),
    );
    const activePool = pool;
    provenance = new ColumnProvenance(createPgCatalogLookup((sql, params) => activePool.query(sql, params)));
    return provenance;
  };
  return {
    profile,
    createMasker(onFailure) {
      if (connection.masking.length === 0) return undefined;
      const masker = createResultMasker(profile, catalog(), { onFailure });
      return masker.active ? masker : undefined;
    },
    async close() {
      await pool?.end().catch(() => undefined);
    },
  };
}
