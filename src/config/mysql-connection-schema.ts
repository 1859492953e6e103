import { z } from "zod";
import { duration, passwordInUrl, sessionLimits, withoutPassword } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";

// ---- MySQL / MariaDB (issue 15) ----
/** Role names Latch will put into GRANT: what operators name roles, nothing a quote could hide in. */
export const MYSQL_ROLE_NAME = /^[A-Za-z0-9_$-]{1,64}$/;
/** Host parts of an account: a name, an IPv4/IPv6 address, `%` or `_` wildcards, a netmask. */
export const MYSQL_ACCOUNT_HOST = /^[A-Za-z0-9.:%_/-]{1,255}$/;

/** Per-session users (issue 15 item 5): the names reach admin SQL, so only plainly quotable text is accepted. */
const mysqlEphemeralSchema = z.strictObject({
  admin_user: z
    .string()
    .regex(/^[A-Za-z0-9_$-]{1,80}$/, "letters, digits, _ $ - only")
    .describe(
      "upstream user with CREATE USER (and the roles WITH ADMIN OPTION) that creates the per-session users",
    ),
  admin_password: secretRefSchema,
  grant_roles: z
    .array(z.string().regex(MYSQL_ROLE_NAME, "role names: letters, digits, _ $ - only, at most 64"))
    .default([])
    .describe("roles granted to each per-session user and made its default roles (MariaDB: at most one)"),
  ttl: duration
    .default("1h")
    .describe("after this the per-session user is locked (ACCOUNT LOCK): no new login, like VALID UNTIL"),
  host: z
    .string()
    .regex(MYSQL_ACCOUNT_HOST, "an account host: name, address, netmask or % / _ wildcards")
    .optional()
    .describe("host part of the per-session accounts; default: the address the server sees the gateway at"),
});

export const mysqlConnectionSchema = z.strictObject({
  type: z.literal("mysql"),
  upstream: z
    .string()
    .regex(/^mysql:\/\/[^@/\s]+@[^/\s]+\/[^/\s]+$/, "expected mysql://user@host:port/database")
    .refine(withoutPassword, passwordInUrl("password"))
    .describe("mysql://user@host:port/database (no password here: use `password`)"),
  password: secretRefSchema.optional(),
  tls: z
    .enum(["disable", "require", "verify-full"])
    .default("disable")
    .describe("TLS to the upstream server"),
  ca_file: z.string().optional().describe("CA bundle for verify-full"),
  masking: z
    .array(z.string())
    .default([])
    .describe(
      "masking profiles applied to result rows, errors and warnings (table.column means this database)",
    ),
  labels: z
    .record(z.string(), z.string())
    .default({})
    .describe("free-form labels visible to policy, e.g. env: prod"),
  connect_timeout: duration.default("10s"),
  ephemeral: mysqlEphemeralSchema
    .optional()
    .describe("log in upstream as a fresh user per session, dropped when the session ends"),
  ...sessionLimits,
});
// ---- end issue 15 ----
