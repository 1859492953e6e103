import { z } from "zod";

/** A secret is never a literal in config: it names where to read it from. */
export const secretRefSchema = z.union([
  z.strictObject({ env: z.string().min(1).describe("environment variable holding the secret") }),
  z.strictObject({ file: z.string().min(1).describe("file holding the secret (trailing newline trimmed)") }),
]);
export type SecretRef = z.infer<typeof secretRefSchema>;

const hostPort = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, "expected host:port, e.g. 127.0.0.1:6432");

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, "expected a duration such as 30s, 5m, 1h");

export const issuerSchema = z.strictObject({
  issuer: z.url().describe("exact `iss` value of tokens from this issuer"),
  audience: z.string().min(1).default("latch").describe("this gateway's audience; `aud` must contain it"),
  jwks_uri: z.url().optional().describe("JWKS location; default: from OIDC discovery"),
  groups_claim: z
    .string()
    .default("groups")
    .describe("claim holding the groups; dotted path for nested claims, e.g. realm_access.roles"),
  subject_prefix: z.string().default("").describe("prefix added to `sub` to form the principal id"),
  algorithms: z
    .array(z.enum(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]))
    .default(["RS256", "ES256", "EdDSA"])
    .describe("accepted signature algorithms (asymmetric only)"),
});

export const postgresConnectionSchema = z.strictObject({
  type: z.literal("postgres"),
  upstream: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL")
    .describe("postgres://user@host:port/database (no password here: use `password`)"),
  password: secretRefSchema.optional(),
  tls: z
    .enum(["disable", "require", "verify-full"])
    .default("disable")
    .describe("TLS to the upstream server"),
  ca_file: z.string().optional().describe("CA bundle for verify-full"),
  masking: z.array(z.string()).default([]),
  labels: z
    .record(z.string(), z.string())
    .default({})
    .describe("free-form labels visible to policy, e.g. env: prod"),
  connect_timeout: duration.default("10s"),
});

export const connectionSchema = z.discriminatedUnion("type", [postgresConnectionSchema]);

export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      postgres: hostPort.optional().default("127.0.0.1:6432"),
      admin: hostPort.optional().default("127.0.0.1:8080"),
    })
    .prefault({}),
  data_dir: z.string().default("./.latch"),
  store: z
    .union([z.literal("sqlite"), z.string().regex(/^postgres(ql)?:\/\//)])
    .default("sqlite")
    .describe("sqlite (embedded, under data_dir) or a postgres:// URL shared by replicas"),
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
    })
    .prefault({}),
  connections: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,63}$/), connectionSchema).default({}),
  masking: z
    .record(
      z.string(),
      z.strictObject({
        detectors: z.array(z.string()).default([]),
        columns: z.array(z.string()).default([]),
      }),
    )
    .default({}),
  policies: z.string().default("./policies").describe("directory of *.cedar files"),
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
      max_connections: z.number().int().min(1).default(1000),
      startup_timeout: duration.default("15s"),
    })
    .prefault({}),
  approvals: z.strictObject({ timeout: duration.default("5m") }).prefault({}),
  log_level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
});

export type LatchConfig = z.infer<typeof configSchema>;
export type ConnectionConfig = z.infer<typeof connectionSchema>;
export type PostgresConnectionConfig = z.infer<typeof postgresConnectionSchema>;
export type IssuerConfig = z.infer<typeof issuerSchema>;
