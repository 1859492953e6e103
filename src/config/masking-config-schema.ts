import { z } from "zod";
import { secretRefSchema } from "./secret-ref-schema.js";

const maskingStrategy = z
  .enum(["redact", "partial", "hash", "null"])
  .describe(
    "redact: [redacted]; partial: keep the last keep_last letters/digits; hash: keyed HMAC; null: SQL NULL",
  );
const keepLast = z.number().int().min(0).max(64);
const maskingOverride = { strategy: maskingStrategy.optional(), keep_last: keepLast.optional() };

/** One masking profile (masking.<name>): content detectors, masked columns and how they are masked. */
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
