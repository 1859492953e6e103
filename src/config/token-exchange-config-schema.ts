import { z } from "zod";
import { duration } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";

/**
 * `identity.token_exchange`: RFC 8693 token exchange at `POST /oauth/token` (docs/security.md). A SAML assertion
 * or a trusted issuer's JWT goes in, a short-lived token signed by Latch's own issuer comes out.
 */
export const tokenExchangeSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe("serve POST /oauth/token and Latch's own issuer"),
    issuer: z
      .url()
      .optional()
      .describe(
        "`iss` of the tokens Latch issues (its discovery document and JWKS are on the admin listener); default: console.public_url, else http://<listen.admin>",
      ),
    audience: z
      .string()
      .min(1)
      .default("latch")
      .describe("`aud` of issued tokens; a request's audience/resource must name it"),
    lifetime: duration
      .default("10m")
      .describe("lifetime of issued tokens (at most 1h), never beyond the subject token's own expiry"),
    signing_key: secretRefSchema
      .optional()
      .describe(
        "PEM (PKCS#8) private key, EC P-256 (ES256) or Ed25519 (EdDSA); default: generated under data_dir (embedded store only: replicas must share one)",
      ),
    accept: z
      .strictObject({
        saml: z
          .array(z.string())
          .default([])
          .describe("ids of console.saml IdPs whose signed assertions may be exchanged"),
        issuers: z
          .array(z.string())
          .optional()
          .describe(
            "issuers (identity.issuers[].issuer) whose JWTs may be exchanged; default: every trusted issuer",
          ),
      })
      .prefault({}),
    max_failures_per_minute: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(20)
      .describe("failed exchanges one address may make per minute before it is answered 429"),
  })
  .prefault({});
