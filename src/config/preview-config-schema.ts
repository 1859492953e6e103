import { z } from "zod";
import { duration } from "./schema-parts.js";

/**
 * `approvals.preview`: how Latch runs a held write first in a transaction it rolls back (docs/approvals.md,
 * "Preview, then commit"). Previews run only for policies annotated `@preview("true")`.
 */
export const previewConfigSchema = z
  .strictObject({
    statement_timeout: duration
      .default("5s")
      .describe(
        "SET LOCAL statement_timeout of the rolled-back preview run; a slower statement is not previewed",
      ),
    lock_timeout: duration
      .default("1s")
      .describe("SET LOCAL lock_timeout of the preview: it never waits long behind another session's locks"),
    row_slack: z
      .strictObject({
        rows: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe("absolute rows the real run may touch beyond the preview"),
        percent: z
          .number()
          .min(0)
          .max(1000)
          .default(0)
          .describe("percent of the previewed rows the real run may touch beyond the preview"),
      })
      .prefault({})
      .describe(
        "the row ceiling of an approved statement is previewed rows + rows + previewed rows * percent / 100",
      ),
    sample_rows: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(5)
      .describe("changed rows shown (masked) to approvers"),
    sample_bytes: z
      .number()
      .int()
      .min(256)
      .max(65_536)
      .default(4096)
      .describe("cap on the sample's size, JSON bytes"),
    plan_bytes: z.number().int().min(256).max(65_536).default(4096).describe("cap on the plan text shown"),
  })
  .prefault({});

export type PreviewConfig = z.infer<typeof previewConfigSchema>;
