import { z } from "zod";
import { auditExportSinkSchema, auditSchema } from "./audit-config-schema.js";
import { connectionNameSchema } from "./connection-name.js";
import { consoleSchema } from "./console-config-schema.js";
import { httpConnectionSchema } from "./http-connection-schema.js";
import { mcpConnectionSchema } from "./mcp-connection-schema.js";
import { mysqlConnectionSchema } from "./mysql-connection-schema.js";
import { previewConfigSchema } from "./preview-config-schema.js";
import { duration, hostPort, passwordInUrl, sessionLimits, withoutPassword } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";
import { tokenExchangeSchema } from "./token-exchange-config-schema.js";

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

export const issuerSchema = z.strictObject({
  issuer: z.url().describe("exact `iss` value of tokens from this issuer"),
  audience: z.string().min(1).default("latch").describe("this gateway's audience; `aud` must contain it"),
  jwks_uri: z.url().optional().describe("JWKS location; default: from OIDC discovery"),
  groups_claim: z
    .string()
    .default("groups")
    .describe("claim holding the groups; dotted path for nested claims, e.g. realm_access.roles"),
  subject_prefix: z.string().default("").describe("prefix added to `sub` to form the principal id"),
  group_prefix: z
    .string()
    .default("")
    .describe(
      "prefix added to every group from this issuer (e.g. `ci:`), so groups from different issuers never share a name: with two issuers, whoever controls group names at one must not be able to claim the other's groups",
    ),
  delegation: z
    .boolean()
    .default(false)
    .describe(
      "accept tokens with an RFC 8693 `act` claim (an agent acting for the subject); the chain is recorded and is context.actors in policy. Without it such tokens are refused",
    ),
  algorithms: z
    .array(z.enum(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]))
    .default(["RS256", "ES256", "EdDSA"])
    .describe("accepted signature algorithms (asymmetric only)"),
});

const maskingStrategy = z
  .enum(["redact", "partial", "hash", "null"])
  .describe(
    "redact: [redacted]; partial: keep the last keep_last letters/digits; hash: keyed HMAC; null: SQL NULL",
  );
const keepLast = z.number().int().min(0).max(64);
const maskingOverride = { strategy: maskingStrategy.optional(), keep_last: keepLast.optional() };

export const maskingProfileSchema = z.strictObject({
  detectors: z
    .array(z.union([z.string().min(1), z.strictObject({ name: z.string().min(1), ...maskingOverride })]))
    .default([])
    .describe("built-in content detectors (card, ssn, email, phone, iban, aws_access_key, ...), or `all`"),
  custom_detectors: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        pattern: z.string().min(1).describe("JavaScript regular expression"),
        flags: z
          .string()
          .regex(/^[imsu]*$/)
          .default(""),
        ...maskingOverride,
      }),
    )
    .default([]),
  columns: z
    .array(z.union([z.string().min(1), z.strictObject({ column: z.string().min(1), ...maskingOverride })]))
    .default([])
    .describe("schema.table.column (or table.column in public), matched by provenance, not by name"),
  strategy: maskingStrategy.default("partial"),
  keep_last: keepLast.default(4),
  hash_key: secretRefSchema.optional().describe("HMAC key for the hash strategy (at least 16 bytes)"),
  on_derived: z
    .enum(["mask", "deny"])
    .default("deny")
    .describe(
      "expressions over masked columns: refuse the statement (deny, the default) or rely on content detection (mask; replace(), reverse(), md5() etc. then get through in clear)",
    ),
  strict: z.boolean().default(false).describe("refuse masked columns in WHERE/ORDER BY/GROUP BY/JOIN"),
});
export type MaskingProfileConfig = z.infer<typeof maskingProfileSchema>;

const storeUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, "expected sqlite or a postgres:// URL")
  .refine(withoutPassword, passwordInUrl("store.password"));

/** The shared store of several replicas (issue 11). */
export const postgresStoreSchema = z.strictObject({
  url: storeUrl.describe("postgres://user@host:port/database (no password here: use `password`)"),
  password: secretRefSchema.optional(),
  tls: z
    .enum(["disable", "require", "verify-full"])
    .default("disable")
    .describe("TLS to the store's server (a store on another machine should use verify-full)"),
  ca_file: z.string().optional().describe("CA bundle for verify-full"),
  pool_size: z
    .number()
    .int()
    .min(2)
    .max(100)
    .default(10)
    .describe("connections this replica keeps to the store"),
});
export type PostgresStoreConfig = z.infer<typeof postgresStoreSchema>;

export const postgresConnectionSchema = z.strictObject({
  type: z.literal("postgres"),
  upstream: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL")
    .refine(withoutPassword, passwordInUrl("password"))
    .describe("postgres://user@host:port/database (no password here: use `password`)"),
  password: secretRefSchema.optional(),
  tls: z
    .enum(["disable", "require", "verify-full"])
    .default("disable")
    .describe("TLS to the upstream server"),
  ca_file: z.string().optional().describe("CA bundle for verify-full"),
  masking: z.array(z.string()).default([]),
  // ---- sensitivity labels (issue 17 §4) ----
  sensitivity: z
    .strictObject({
      low: z.array(z.string().min(1)).optional(),
      medium: z.array(z.string().min(1)).optional(),
      high: z.array(z.string().min(1)).optional(),
    })
    .optional()
    .describe(
      "tables (schema.table) and columns (schema.table.column) by level, visible to policy as resource.sensitivity and context.statement.sensitivity; masked columns count as medium",
    ),
  // ---- end sensitivity labels ----
  labels: z
    .record(z.string(), z.string())
    .default({})
    .describe("free-form labels visible to policy, e.g. env: prod"),
  connect_timeout: duration.default("10s"),
  // ---- ephemeral users and session lifetime (issue 5) ----
  ephemeral: z
    .strictObject({
      admin_user: z
        .string()
        .min(1)
        .describe("upstream role with CREATEROLE that creates the per-session roles"),
      admin_password: secretRefSchema,
      grant_roles: z
        .array(z.string().min(1).max(63))
        .default([])
        .describe("database roles each per-session role is made a member of"),
      ttl: duration.default("1h").describe("VALID UNTIL backstop on each per-session role"),
    })
    .optional()
    .describe("connect upstream as a fresh login role per session, dropped when the session ends"),
  ...sessionLimits,
  // ---- end issue 5 ----
});

export const sshConnectionSchema = z.strictObject({
  type: z.literal("ssh"),
  upstream: z
    .string()
    .regex(/^ssh:\/\/[^@/\s]+@[^/\s]+$/, "expected ssh://user@host[:port]")
    .refine(withoutPassword, passwordInUrl("private_key"))
    .describe("ssh://user@host:port of the target sshd (the user Latch logs in as)"),
  private_key: secretRefSchema.describe(
    "OpenSSH/PEM private key Latch logs in with; the caller never sees it",
  ),
  host_key: z
    .string()
    .min(1)
    .describe(
      'the target\'s host key: a known_hosts-style "ssh-ed25519 AAAA..." line or a "SHA256:..." fingerprint; a mismatch refuses the connection',
    ),
  labels: z
    .record(z.string(), z.string())
    .default({})
    .describe("free-form labels visible to policy, e.g. env: prod"),
  masking: z
    .array(z.string())
    .default([])
    .describe(
      "masking profiles whose content detectors apply to recorded output (column rules do not apply)",
    ),
  connect_timeout: duration.default("10s"),
  ...sessionLimits,
});

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
  identity: z
    .strictObject({
      issuers: z.array(issuerSchema).default([]),
      dev_issuer: z
        .boolean()
        .default(false)
        .describe("trust the local dev issuer (`latch token`); never in prod"),
      clock_skew: duration.default("30s"),
      admin_groups: z
        .array(z.string())
        .default(["latch-admins"])
        .describe("groups allowed to use the admin API"),
      auditor_groups: z
        .array(z.string())
        .default([])
        .describe("groups that may read sessions, recordings and the audit log (not kill, block or revoke)"),
      token_exchange: tokenExchangeSchema,
    })
    .prefault({}),
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
