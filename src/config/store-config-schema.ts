import { z } from "zod";
import { passwordInUrl, withoutPassword } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";

/** A PostgreSQL store given as a bare URL (store: postgres://...). */
export const storeUrl = z
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
