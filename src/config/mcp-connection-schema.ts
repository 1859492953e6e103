import { z } from "zod";
import { duration, sessionLimits, withoutPassword } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";

// ---- MCP (issue 14) ----
const pointer = z
  .string()
  .regex(/^(\/([^/~]|~[01])*)*$/, "expected a JSON pointer such as /path or /options/force (RFC 6901)");

/** One per-tool argument rule: the value at `pointer` (a string, or other values as JSON) matched by `pattern`. */
const argumentRule = z
  .strictObject({
    pointer: pointer.describe('where in the arguments, e.g. "/path"; "" is the whole arguments object'),
    pattern: z
      .string()
      .min(1)
      .refine((text) => {
        try {
          new RegExp(text, "u");
          return true;
        } catch {
          return false;
        }
      }, "expected a JavaScript regular expression")
      .describe("regular expression (JavaScript, unicode) the value is tested with"),
    action: z
      .enum(["deny", "approval", "require"])
      .describe(
        "deny: refuse on a match; approval: hold a match for approval; require: refuse unless it matches",
      ),
    group: z
      .string()
      .min(1)
      .optional()
      .describe("approver group for action approval (default: mcp.approver_group)"),
    reason: z.string().max(500).optional().describe("said to the agent and recorded"),
  })
  .refine((rule) => rule.action !== "approval" || rule.group !== undefined, {
    message: "an approval rule names its approver group (group: ...)",
  });

const toolSettings = z.strictObject({
  read_only: z
    .boolean()
    .default(false)
    .describe("Latch hints the tool read-only; without it every upstream tool is hinted destructive"),
  rules: z.array(argumentRule).max(50).default([]).describe("argument rules, checked in order before policy"),
});

const oauthClientCredentials = z.strictObject({
  token_url: z.url().describe("the authorization server's token endpoint"),
  client_id: z.string().min(1),
  client_secret: secretRefSchema,
  scope: z.string().optional(),
  audience: z.string().optional().describe("sent as `audience` (some servers want it, e.g. Auth0)"),
});

export const mcpConnectionSchema = z
  .strictObject({
    type: z.literal("mcp"),
    upstream: z
      .url()
      .regex(/^https?:\/\//, "expected an http:// or https:// URL")
      .refine(withoutPassword, "the upstream URL must not carry a password: put the secret in inject")
      .optional()
      .describe("Streamable HTTP URL of the upstream MCP server (or `command` for a stdio server)"),
    command: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("argv of a stdio MCP server the gateway starts, one process per MCP session"),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.union([z.string(), secretRefSchema]))
      .default({})
      .describe("environment of the stdio server: plain values or secret refs ({ env: X } / { file: P })"),
    cwd: z.string().optional().describe("working directory of the stdio server"),
    inject: z
      .strictObject({
        header: z
          .strictObject({
            name: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "expected an HTTP header name"),
            value: secretRefSchema,
            format: z
              .string()
              .regex(/\{\}/, 'format must contain {} where the secret goes, e.g. "Bearer {}"')
              .default("{}")
              .describe('how the secret is written, e.g. "Bearer {}"'),
          })
          .optional(),
        oauth: oauthClientCredentials
          .optional()
          .describe(
            "OAuth 2 client credentials grant: Authorization: Bearer <access token>, cached until expiry",
          ),
      })
      .refine((inject) => inject.header === undefined || inject.oauth === undefined, {
        message: "inject one credential (header or oauth), not both",
      })
      .optional()
      .describe("the upstream credential (HTTP upstreams); the caller's token is never forwarded"),
    tools: z
      .record(z.string().min(1).max(128), toolSettings)
      .default({})
      .describe("per upstream tool (its own name): read_only hint and argument rules"),
    pinning: z
      .enum(["first_use", "admin"])
      .default("first_use")
      .describe(
        "first_use: a tool's definition is pinned the first time it is seen; admin: only once an admin accepts it",
      ),
    budget: z
      .strictObject({
        calls: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe("most tool calls per MCP session on this connection"),
        result_bytes: z
          .number()
          .int()
          .min(1)
          .optional()
          .describe("most result bytes (masked JSON) per MCP session on this connection"),
      })
      .default({}),
    max_result_bytes: z
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(8 * 1024 * 1024)
      .describe(
        "largest upstream tool result Latch masks and passes on (its texts, binary data and structured content as JSON, before masking); a larger one is refused with mcp_result_too_large",
      ),
    timeout: duration.default("60s").describe("longest an upstream call may take"),
    labels: z
      .record(z.string(), z.string())
      .default({})
      .describe("free-form labels visible to policy, e.g. env: prod"),
    masking: z.array(z.string()).default([]).describe("masking profiles whose detectors apply to results"),
    ...sessionLimits,
  })
  .refine((c) => (c.upstream === undefined) !== (c.command === undefined), {
    message:
      "an mcp connection has either upstream (a Streamable HTTP URL) or command (a stdio server), not both",
  })
  .refine((c) => c.command === undefined || c.inject === undefined, {
    message: "inject applies to an HTTP upstream; give a stdio server its secret through env",
  });
// ---- end MCP ----
