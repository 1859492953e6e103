import { z } from "zod";
import { duration, passwordInUrl, sessionLimits, withoutPassword } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";

// ---- MySQL / MariaDB (issue 15) ----
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
  ...sessionLimits,
});
// ---- end issue 15 ----
