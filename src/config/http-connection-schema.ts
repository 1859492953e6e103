import { z } from "zod";
import { secretRefSchema as secretRef } from "./secret-ref-schema.js";

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, "expected a duration such as 30s, 5m, 1h");

/**
 * The `type: http` connection (docs/http.md): an HTTP API behind Latch. Its own file so the shared schema only
 * gains a line.
 */
function httpConnectionSchemaOf() {
  const headerName = z
    .string()
    .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "expected an HTTP header name (a token, no spaces or colons)");
  const pointer = z
    .string()
    .regex(/^(\/([^/~]|~[01])*)+$/, "expected a JSON pointer such as /customers/*/ssn (RFC 6901)");
  const inject = z
    .strictObject({
      header: z
        .strictObject({
          name: headerName,
          value: secretRef,
          format: z
            .string()
            .regex(/\{\}/, 'format must contain {} where the secret goes, e.g. "Bearer {}"')
            .default("{}"),
        })
        .optional()
        .describe("a header carrying the secret, e.g. { name: X-Api-Key, value: { env: KEY } }"),
      bearer: secretRef.optional().describe("Authorization: Bearer <secret>"),
      basic: z
        .strictObject({ username: z.string().min(1), password: secretRef })
        .optional()
        .describe("Authorization: Basic base64(username:password)"),
      query: z
        .strictObject({ name: z.string().min(1), value: secretRef })
        .optional()
        .describe("a query parameter carrying the secret, e.g. { name: api_key, value: { env: KEY } }"),
    })
    .refine(
      (inject) =>
        [inject.header, inject.bearer, inject.basic, inject.query].filter((x) => x !== undefined).length <= 1,
      "inject one credential (header, bearer, basic or query), not several",
    );
  return z.strictObject({
    type: z.literal("http"),
    upstream: z
      .url()
      .regex(/^https?:\/\/[^?#]*$/, "expected an http:// or https:// base URL without query or fragment")
      .refine((url) => {
        try {
          const parsed = new URL(url);
          return parsed.password === "" && parsed.username === "";
        } catch {
          return true;
        }
      }, "the upstream URL must not carry a user or password: put the secret in inject")
      .describe("base URL; the caller's path after /<connection> is appended"),
    inject: inject.optional().describe("the upstream credential Latch adds; the caller never sees it"),
    tls: z
      .enum(["verify-full"])
      .default("verify-full")
      .describe("an https upstream's certificate is always verified (name and chain)"),
    ca_file: z.string().optional().describe("CA bundle to verify an https upstream with"),
    routing: z
      .enum(["path", "host"])
      .default("path")
      .describe("path: /<connection>/...; host: also Host: <connection>.<listen host>"),
    path_case: z
      .enum(["sensitive", "insensitive"])
      .default("sensitive")
      .describe("insensitive: the path is lower-cased before policy (for upstreams that ignore case)"),
    policy_headers: z
      .array(headerName.transform((name) => name.toLowerCase()))
      .default([])
      .describe("request headers visible to policy as context.headers (lower-case names)"),
    body_pointers: z
      .array(pointer)
      .default([])
      .describe("JSON pointers of request-body values visible to policy as context.body.values"),
    masking: z.array(z.string()).default([]).describe("masking profiles applied to responses"),
    mask_fields: z
      .array(pointer)
      .default([])
      .describe("JSON pointers masked whole in JSON responses (* for any array element or key)"),
    unmasked_types: z
      .array(z.string().regex(/^[a-z0-9.+-]+\/([a-z0-9.+-]+|\*)$/))
      .default([])
      .describe("content types passed unmasked on a masked connection (e.g. image/*); others are withheld"),
    inspect_limit: z
      .number()
      .int()
      .min(1024)
      .max(64 << 20)
      .default(1 << 20)
      .describe(
        "largest body Latch reads to inspect (JSON request bodies, masked responses); beyond it: 413/502",
      ),
    timeout: duration.default("30s").describe("upstream headers must arrive within this"),
    connect_timeout: duration.default("10s"),
    labels: z
      .record(z.string(), z.string())
      .default({})
      .describe("free-form labels visible to policy, e.g. env: prod"),
    max_session: duration.optional().describe("longest a session may stay open, e.g. 8h"),
    idle_timeout: duration.optional().describe("ends a session with no traffic for this long, e.g. 15m"),
  });
}

export const httpConnectionSchema = httpConnectionSchemaOf();
export type HttpConnectionConfig = z.infer<typeof httpConnectionSchema>;
