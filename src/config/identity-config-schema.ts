import { z } from "zod";
import { duration } from "./schema-parts.js";
import { tokenExchangeSchema } from "./token-exchange-config-schema.js";

/** One trusted token issuer (identity.issuers). */
export const issuerSchema = z.strictObject({
  issuer: z.url().describe("exact `iss` value of tokens from this issuer"),
  audience: z.string().min(1).default("latch").describe("this gateway's audience; `aud` must contain it"),
  jwks_uri: z.url().optional().describe("JWKS location; default: from OIDC discovery"),
  groups_claim: z
    .string()
    .default("groups")
    .describe("claim holding the groups; dotted path for nested claims, e.g. realm_access.roles"),
  subject_prefix: z.string().default("").describe("prefix added to `sub` to form the principal id"),
  group_prefix: z
    .string()
    .default("")
    .describe(
      "prefix added to every group from this issuer (e.g. `ci:`), so groups from different issuers never share a name: with two issuers, whoever controls group names at one must not be able to claim the other's groups",
    ),
  delegation: z
    .boolean()
    .default(false)
    .describe(
      "accept tokens with an RFC 8693 `act` claim (an agent acting for the subject); the chain is recorded and is context.actors in policy. Without it such tokens are refused",
    ),
  algorithms: z
    .array(z.enum(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]))
    .default(["RS256", "ES256", "EdDSA"])
    .describe("accepted signature algorithms (asymmetric only)"),
});

/** Who may connect and administer: trusted issuers, the dev issuer, admin and auditor groups, token exchange. */
export const identitySchema = z
  .strictObject({
    issuers: z.array(issuerSchema).default([]),
    dev_issuer: z
      .boolean()
      .default(false)
      .describe("trust the local dev issuer (`latch token`); never in prod"),
    clock_skew: duration.default("30s"),
    admin_groups: z
      .array(z.string())
      .default(["latch-admins"])
      .describe("groups allowed to use the admin API"),
    auditor_groups: z
      .array(z.string())
      .default([])
      .describe("groups that may read sessions, recordings and the audit log (not kill, block or revoke)"),
    token_exchange: tokenExchangeSchema,
  })
  .prefault({});
