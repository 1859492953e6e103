import { z } from "zod";
import { sessionLimits } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";

// ---- MCP (issue 14) ----
export const mcpConnectionSchema = z.strictObject({
  type: z.literal("mcp"),
  upstream: z
    .url()
    .optional()
    .describe("Streamable HTTP URL of the upstream MCP server (or `command` for a stdio server)"),
  command: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe("argv of a stdio MCP server the gateway starts (or `upstream` for a remote one)"),
  inject: z
    .strictObject({
      header: z.strictObject({
        name: z.string().min(1),
        value: secretRefSchema,
        format: z.string().default("{}").describe('how the secret is written, e.g. "Bearer {}"'),
      }),
    })
    .optional()
    .describe("the upstream credential, sent as a header; the caller's token is never forwarded"),
  labels: z
    .record(z.string(), z.string())
    .default({})
    .describe("free-form labels visible to policy, e.g. env: prod"),
  masking: z.array(z.string()).default([]).describe("masking profiles whose detectors apply to results"),
  ...sessionLimits,
});
// ---- end MCP ----
