import { readFileSync } from "node:fs";
import pg from "pg";
import type { LatchConfig, PostgresStoreConfig } from "../../config/schema.js";
import { resolveSecret } from "../../config/secrets.js";

/** `store:` as the PostgreSQL store needs it, or undefined for the embedded SQLite store. */
export function postgresStoreConfig(store: LatchConfig["store"]): PostgresStoreConfig | undefined {
  if (store === "sqlite") return undefined;
  if (typeof store === "string") return { url: store, tls: "disable", pool_size: 10 };
  return store;
}

/**
 * The pool every store of this replica shares. The password comes from its secret reference, never from the
 * URL; errors from pg name the host, never the password. Each connection says who it is in pg_stat_activity.
 */
export function createPgStorePool(store: PostgresStoreConfig): pg.Pool {
  const ssl =
    store.tls === "disable"
      ? false
      : store.tls === "require"
        ? { rejectUnauthorized: false }
        : {
            rejectUnauthorized: true,
            ...(store.ca_file === undefined ? {} : { ca: readFileSync(store.ca_file, "utf8") }),
          };
  // Discrete fields, not connectionString: pg lets the URL's (empty) password win over the `password` option.
  const url = new URL(store.url);
  const pool = new pg.Pool({
    host: decodeURIComponent(url.hostname.replace(/^\[|\]$/g, "")),
    port: url.port === "" ? 5432 : Number(url.port),
    user: decodeURIComponent(url.username),
    database: decodeURIComponent(url.pathname.replace(/^\//, "")) || decodeURIComponent(url.username),
    ...(store.password === undefined ? {} : { password: resolveSecret(store.password, "store.password") }),
    ssl,
    max: store.pool_size,
    application_name: "latch",
    connectionTimeoutMillis: 5000,
    // A statement that hangs (a locked row held by a stuck replica) fails instead of holding the caller forever.
    statement_timeout: 10_000,
  });
  // An idle connection that dies (store restart) must not crash the process: the next query reconnects.
  pool.on("error", () => undefined);
  return pool;
}
