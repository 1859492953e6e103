import type pg from "pg";
import { LatchError } from "../../errors.js";
import { PG_APPROVAL_PREVIEW_SCHEMA } from "./pg-approval-preview-schema.js";
import { PG_AUDIT_SCHEMA } from "./pg-audit-schema.js";
import { PG_CLUSTER_SCHEMA } from "./pg-cluster-schema.js";
import { PG_CONSOLE_SCHEMA } from "./pg-console-schema.js";
import { PG_MCP_PIN_SCHEMA } from "./pg-mcp-pin-schema.js";
import type { PgMigration } from "./pg-migration.js";
import { PG_PENDING_SIGN_IN_SCHEMA } from "./pg-pending-sign-in-schema.js";
import { PG_RETENTION_SCHEMA } from "./pg-retention-schema.js";
import { PG_SAML_CLAIMS_SCHEMA } from "./pg-saml-claims-schema.js";
import { PG_STATE_SCHEMA } from "./pg-state-schema.js";

export const PG_MIGRATIONS: readonly PgMigration[] = [
  PG_AUDIT_SCHEMA,
  PG_STATE_SCHEMA,
  PG_CLUSTER_SCHEMA,
  PG_APPROVAL_PREVIEW_SCHEMA,
  PG_CONSOLE_SCHEMA,
  PG_MCP_PIN_SCHEMA,
  PG_RETENTION_SCHEMA,
  PG_SAML_CLAIMS_SCHEMA,
  PG_PENDING_SIGN_IN_SCHEMA,
];
export const PG_SCHEMA_VERSION = PG_MIGRATIONS.length;

/**
 * A fixed key for `pg_advisory_lock`: every replica that starts takes it before looking at the schema, so two
 * replicas starting at once migrate one after the other (the second finds nothing to do) instead of racing.
 */
const MIGRATION_LOCK_KEY = 0x4c41_5443; // "LATC"

/**
 * Brings the store's schema to this Latch's version, under the advisory lock, on one connection of the pool.
 * Refuses a store newer than this Latch (an older replica must not write into a schema it does not know) and
 * a database whose encoding is not UTF8 (event hashes are computed over UTF-8 bytes in the store).
 */
export async function migratePgStore(pool: pg.Pool): Promise<{ from: number; to: number }> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      const encoding = (await client.query<{ server_encoding: string }>("SHOW server_encoding")).rows[0]!;
      if (encoding.server_encoding.toUpperCase() !== "UTF8") {
        throw new LatchError("config_invalid", {
          detail: `the PostgreSQL store's database has encoding ${encoding.server_encoding}; create it with ENCODING 'UTF8'`,
        });
      }
      await client.query(
        "CREATE TABLE IF NOT EXISTS latch_schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
      );
      const { rows } = await client.query<{ version: number | null }>(
        "SELECT max(version) AS version FROM latch_schema_migrations",
      );
      const from = rows[0]?.version ?? 0;
      if (from > PG_SCHEMA_VERSION) {
        throw new LatchError("config_invalid", {
          detail: `the PostgreSQL store has schema version ${from}, newer than this Latch understands (${PG_SCHEMA_VERSION}): upgrade this replica`,
        });
      }
      for (let version = from; version < PG_SCHEMA_VERSION; version++) {
        const migration = PG_MIGRATIONS[version]!;
        await client.query("BEGIN");
        try {
          await client.query(migration.sql);
          await client.query("INSERT INTO latch_schema_migrations (version, name) VALUES ($1, $2)", [
            version + 1,
            migration.name,
          ]);
          await client.query("COMMIT");
        } catch (cause) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw new LatchError(
            "config_invalid",
            {
              detail: `migrating the PostgreSQL store to version ${version + 1} (${migration.name}) failed: ${(cause as Error).message}`,
            },
            { cause },
          );
        }
      }
      return { from, to: PG_SCHEMA_VERSION };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}
