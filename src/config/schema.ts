import { z } from "zod";
import { auditExportSinkSchema, auditSchema } from "./audit-config-schema.js";
import { connectionNameSchema } from "./connection-name.js";
import { consoleSchema } from "./console-config-schema.js";
import { httpConnectionSchema } from "./http-connection-schema.js";
import { identitySchema, type issuerSchema } from "./identity-config-schema.js";
import { maskingProfileSchema } from "./masking-config-schema.js";
import { mcpConnectionSchema } from "./mcp-connection-schema.js";
import { mysqlConnectionSchema } from "./mysql-connection-schema.js";
import { postgresConnectionSchema } from "./postgres-connection-schema.js";
import { previewConfigSchema } from "./preview-config-schema.js";
import { duration, hostPort } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";
import { sshConnectionSchema } from "./ssh-connection-schema.js";
import { postgresStoreSchema, storeUrl } from "./store-config-schema.js";

/** An IANA zone name Intl accepts (policy.time_zone). */
function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export { type SecretRef, secretRefSchema } from "./secret-ref-schema.js";

export const connectionSchema = z.discriminatedUnion("type", [
  postgresConnectionSchema,
  sshConnectionSchema,
  httpConnectionSchema,
  mysqlConnectionSchema,
  mcpConnectionSchema,
]);

export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      postgres: hostPort
        .optional()
        .default("127.0.0.1:6432")
        .describe(
          "PostgreSQL listener; the startup database picks the connection. Opens only when a postgres connection is configured",
        ),
      admin: hostPort.optional().default("127.0.0.1:8080"),
      mysql: hostPort
        .optional()
        .default("127.0.0.1:3307")
        .describe(
          "MySQL/MariaDB listener; the handshake's database picks the connection. Opens only when a mysql connection is configured",
        ),
      ssh: hostPort
        .optional()
        .default("127.0.0.1:2222")
        .describe(
          "SSH listener; the SSH user name picks the connection. Opens only when an ssh connection is configured",
        ),
      http: hostPort
        .optional()
        .describe(
          "HTTPS listener; /<connection>/<path> picks the connection, /mcp is the MCP endpoint. Default 127.0.0.1:8443 when an http or mcp connection is configured; set it to open the MCP endpoint over other connections",
        ),
    })
    .prefault({}),
  data_dir: z.string().default("./.latch"),
  server: z
    .strictObject({
      workers: z
        .union([z.number().int().min(1).max(256), z.literal("auto")])
        .default(1)
        .describe(
          "gateway processes sharing every listener (node:cluster), each a replica of the PostgreSQL store; auto: one per CPU (os.availableParallelism()). More than 1 needs store: postgres (SQLite has one writer)",
        ),
    })
    .prefault({}),
  store: z
    .union([z.literal("sqlite"), storeUrl, postgresStoreSchema])
    .default("sqlite")
    .describe(
      "sqlite (embedded, under data_dir, one gateway process), or a PostgreSQL store shared by several replicas: postgres://user@host/db, or { url, password, tls }",
    ),
  tls: z
    .strictObject({
      cert_file: z.string().optional().describe("PEM certificate; default: generated under data_dir"),
      key_file: z.string().optional(),
      allow_plaintext: z
        .boolean()
        .default(false)
        .describe("accept clients that do not ask for TLS (tokens then cross the network in clear)"),
    })
    .prefault({}),
  identity: identitySchema,
  connections: z
    // The HTTP listener serves /mcp, /oauth/token and /.well-known/... itself (connection-name.ts).
    .record(connectionNameSchema, connectionSchema)
    .default({}),
  masking: z.record(z.string(), maskingProfileSchema).default({}),
  policies: z.string().default("./policies").describe("directory of *.cedar files"),
  // ---- policy context (issue 17 §4) ----
  policy: z
    .strictObject({
      time_zone: z
        .string()
        .refine(knownTimeZone, "not a time zone Intl knows: use an IANA name such as Europe/Berlin or UTC")
        .optional()
        .describe(
          "IANA time zone of context.local_time (daylight saving applied), e.g. Europe/Berlin; context.time stays UTC",
        ),
    })
    .prefault({}),
  // ---- end issue 17 §4 ----
  sql: z
    .strictObject({
      dangerous_functions: z
        .array(z.string())
        .default([])
        .describe("extra functions that need the sql:admin_function action"),
      safe_functions: z
        .array(z.string())
        .default([])
        .describe("extra functions callable without a sql:function check"),
    })
    .prefault({}),
  limits: z
    .strictObject({
      max_message_bytes: z
        .number()
        .int()
        .min(1024)
        .max(1 << 30)
        .default(16 << 20),
      max_connections: z
        .number()
        .int()
        .min(1)
        .default(1000)
        .describe(
          "client connections per protocol listener; beyond it clients get 53300 too many connections",
        ),
      startup_timeout: duration
        .default("15s")
        .describe(
          "the whole handshake (TLS, startup, token) must complete within this, whatever the client sends",
        ),
      drain_timeout: duration
        .default("15s")
        .describe(
          "on SIGTERM: new connections are refused and each session ends once its running statement finished; what still runs after this is cut",
        ),
      max_handshakes_per_address: z
        .number()
        .int()
        .min(1)
        .default(32)
        .describe("connections from one client address that may be in their handshake at once"),
    })
    .prefault({}),
  approvals: z
    .strictObject({
      timeout: duration.default("5m").describe("how long a request waits for a decision"),
      mode: z
        .enum(["hold", "defer"])
        .default("hold")
        .describe("hold: the statement waits in-session; defer: 42501 at once, re-run after approval"),
      max_grant: duration.default("1h").describe("longest grant window an approver may give (--for)"),
      console_url: z.url().optional().describe("base URL of the admin console, for links in notifications"),
      webhooks: z
        .array(
          z.strictObject({
            url: z.url(),
            secret: secretRefSchema.describe("HMAC-SHA256 key for the X-Latch-Signature header"),
            format: z.enum(["json", "slack"]).default("json"),
          }),
        )
        .default([])
        .describe("signed notifications of request and grant changes"),
      preview: previewConfigSchema.describe('how held writes under @preview("true") policies are previewed'),
    })
    .prefault({}),
  console: consoleSchema,
  health: z
    .strictObject({
      upstream_check_interval: duration
        .default("10s")
        .describe(
          "how often each connection's upstream is checked for /readyz (TCP connect and a protocol hello, no login)",
        ),
      upstream_check_timeout: duration
        .default("3s")
        .describe("an upstream that has not answered its check within this is not ready"),
      heartbeat_interval: duration
        .default("5s")
        .describe("how often this gateway tells the store it is alive (replicas on a shared store)"),
      gateway_gone_after: duration
        .default("30s")
        .describe(
          "a gateway of the store silent for this long is gone: its sessions are ended on the record and its per-session upstream roles reaped by the others",
        ),
    })
    .prefault({}),
  mcp: z
    .strictObject({
      resource: z
        .url()
        .optional()
        .describe(
          "this endpoint's URL as agents reach it (RFC 9728 `resource`); default https://<listen.http>/mcp",
        ),
      max_rows: z.number().int().min(1).max(100_000).default(500).describe("rows sql_query returns at most"),
      max_output_bytes: z
        .number()
        .int()
        .min(1024)
        .max(16 * 1024 * 1024)
        .default(64 * 1024)
        .describe(
          "bytes of ssh_exec output (per stream) and of an http_request response body a call returns at most",
        ),
      max_session: duration.optional().describe("longest an MCP session may last"),
      idle_timeout: duration.optional().describe("an MCP session idle this long is ended"),
    })
    .prefault({})
    .describe("the MCP endpoint at https://<listen.http>/mcp (docs/mcp.md)"),
  audit: auditSchema,
  observability: z
    .strictObject({
      otlp_traces: z
        .url()
        .optional()
        .describe(
          "OTLP/HTTP traces endpoint (e.g. http://collector:4318/v1/traces): a span per operation stage; off when unset",
        ),
    })
    .prefault({}),
  log_level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
});

export { auditExportSinkSchema, mcpConnectionSchema, mysqlConnectionSchema };
export type LatchConfig = z.infer<typeof configSchema>;
export type ConnectionConfig = z.infer<typeof connectionSchema>;
export type PostgresConnectionConfig = z.infer<typeof postgresConnectionSchema>;
export type SshConnectionConfig = z.infer<typeof sshConnectionSchema>;
export type { HttpConnectionConfig } from "./http-connection-schema.js";
export type MysqlConnectionConfig = z.infer<typeof mysqlConnectionSchema>;
export type McpConnectionConfig = z.infer<typeof mcpConnectionSchema>;
export type IssuerConfig = z.infer<typeof issuerSchema>;
export type MaskingProfileConfig = z.infer<typeof maskingProfileSchema>;
export type PostgresStoreConfig = z.infer<typeof postgresStoreSchema>;
