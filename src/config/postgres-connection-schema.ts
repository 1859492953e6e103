import { z } from "zod";
import { duration, passwordInUrl, sessionLimits, withoutPassword } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";

/** A PostgreSQL connection (type: postgres). */
/** Idle authenticated upstream connections kept for the next session (src/protocols/postgres/upstream-pool.ts). */
const upstreamPoolSchema = z
  .strictObject({
    max_idle: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(4)
      .describe("idle upstream connections kept per upstream user, database and startup settings"),
    idle_timeout: duration.default("60s").describe("an idle upstream connection unused this long is closed"),
    max_lifetime: duration
      .default("1h")
      .describe("an upstream connection older than this is closed instead of reused"),
  })
  .describe(
    "reuse upstream connections across sessions (reset with DISCARD ALL); off unless set, e.g. pool: { max_idle: 4 }",
  );

export const postgresConnectionSchema = z
  .strictObject({
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
    pool: upstreamPoolSchema.optional(),
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
  })
  // A per-session role logs in once and is dropped with its session: there is nothing to reuse.
  .refine((c) => c.pool === undefined || c.ephemeral === undefined, {
    path: ["pool"],
    message:
      "pool and ephemeral cannot be combined: ephemeral roles are made per session, so their upstream connections cannot be shared; remove pool (or ephemeral) from this connection",
  });
