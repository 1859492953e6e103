import pg from "pg";
import type { PostgresConnectionConfig } from "../../config/schema.js";
import type { PostgresCredential } from "../../credentials/postgres-credentials.js";
import { LatchError } from "../../errors.js";

/** One column of a result, with where PostgreSQL says it came from (table OID 0: computed). */
export interface ResultField {
  readonly name: string;
  readonly tableOid: number;
  readonly attributeNumber: number;
}

export interface SqlResult {
  readonly fields: readonly ResultField[];
  /** Text values as the server sent them; null is SQL NULL. At most `maxRows` (plus one, to tell truncation). */
  readonly rows: readonly (readonly (string | null)[])[];
  readonly command: string;
  readonly rowCount: number;
}

/** Runs SQL on one PostgreSQL connection's upstream with the credential the gate issued for this session. */
export interface SqlUpstream {
  query(sql: string, params: readonly (string | null)[], signal: AbortSignal): Promise<SqlResult>;
  /** The same upstream with the same credential, for catalog lookups (column provenance). */
  catalog(sql: string, params: unknown[]): Promise<{ rows: readonly Record<string, unknown>[] }>;
  close(): Promise<void>;
}

const asText = (value: string) => value;

/** Connects lazily; one client per MCP session and connection, so statements of one session run in order. */
export function createSqlUpstream(
  name: string,
  connection: PostgresConnectionConfig,
  credential: PostgresCredential,
): SqlUpstream {
  const url = new URL(connection.upstream);
  const config: pg.ClientConfig = {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port === "" ? 5432 : Number(url.port),
    user: credential.user ?? decodeURIComponent(url.username),
    database: decodeURIComponent(url.pathname.replace(/^\//, "")) || undefined,
    ...(credential.password === undefined ? {} : { password: credential.password }),
    ssl: connection.tls === "disable" ? false : { rejectUnauthorized: connection.tls === "verify-full" },
    application_name: "latch-mcp",
    connectionTimeoutMillis: 10_000,
    // Values stay as the server's text: masking and the agent see exactly what psql would.
    types: { getTypeParser: () => asText } as unknown as pg.CustomTypesConfig,
  };
  let client: Promise<pg.Client> | undefined;
  const connected = (): Promise<pg.Client> => {
    client ??= (async () => {
      const fresh = new pg.Client(config);
      fresh.on("error", () => {
        client = undefined;
      });
      try {
        await fresh.connect();
      } catch (cause) {
        client = undefined;
        const code = (cause as { code?: string }).code;
        if (code === "28P01" || code === "28000") throw new LatchError("upstream_auth_failed", { name });
        throw new LatchError("upstream_unavailable", { name, reason: (cause as Error).message }, { cause });
      }
      return fresh;
    })();
    return client;
  };
  return {
    async query(sql, params, signal) {
      const db = await connected();
      const cancel = () => void db.end().catch(() => undefined);
      signal.addEventListener("abort", cancel, { once: true });
      try {
        const result = await db.query({ text: sql, values: [...params], rowMode: "array" });
        // A multi-statement text comes back as one result per statement: the last one is what a tool returns.
        const last = (Array.isArray(result) ? result.at(-1) : result) as pg.QueryResult<unknown[]>;
        return {
          fields: (last.fields ?? []).map((field) => ({
            name: field.name,
            tableOid: field.tableID,
            attributeNumber: field.columnID,
          })),
          rows: last.rows as (string | null)[][],
          command: last.command ?? "",
          rowCount: last.rowCount ?? last.rows.length,
        };
      } finally {
        signal.removeEventListener("abort", cancel);
      }
    },
    async catalog(sql, params) {
      const db = await connected();
      // Catalog values parse as text too; the provenance lookup converts attnum itself.
      return db.query(sql, params);
    },
    async close() {
      const open = client;
      client = undefined;
      await open?.then((db) => db.end()).catch(() => undefined);
    },
  };
}
