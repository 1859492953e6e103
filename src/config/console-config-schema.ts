import { z } from "zod";
import { duration } from "./schema-parts.js";
import { secretRefSchema } from "./secret-ref-schema.js";

/** The `console:` section: the web console's URL, sign-in sessions and single sign-on (docs/console.md). */
export const consoleSchema = z
  .strictObject({
    public_url: z
      .url()
      .optional()
      .describe(
        "the admin listener's URL as browsers reach it (sign-in redirects come back here); default: the request's Host, loopback only",
      ),
    session_ttl: duration
      .default("8h")
      .describe("a console sign-in lasts this long, then the person signs in again"),
    cookie_secure: z
      .boolean()
      .default(true)
      .describe(
        "mark the sign-in cookie Secure (browsers still send it to http://localhost); turn off only behind no TLS at all",
      ),
    oidc: z
      .array(
        z.strictObject({
          id: z.string().regex(/^[a-z0-9-]{1,32}$/, "lower-case letters, digits and dashes"),
          name: z.string().min(1).max(64).describe("shown on the sign-in button"),
          issuer: z.url().describe("one of identity.issuers: its groups_claim and prefixes apply"),
          client_id: z.string().min(1),
          client_secret: secretRefSchema.optional().describe("absent: a public client (PKCE only)"),
          scopes: z.string().default("openid profile email groups"),
        }),
      )
      .default([])
      .describe("single sign-on to the console: OIDC authorization code with PKCE"),
    saml: z
      .array(
        z.strictObject({
          id: z.string().regex(/^[a-z0-9-]{1,32}$/, "lower-case letters, digits and dashes"),
          name: z.string().min(1).max(64).describe("shown on the sign-in button"),
          entry_point: z.url().describe("the IdP's single sign-on URL (HTTP-Redirect binding)"),
          idp_issuer: z.string().min(1).describe("the IdP's entity id: the assertion's Issuer must equal it"),
          idp_cert_file: z.string().min(1).describe("PEM certificate the IdP signs assertions with"),
          groups_attribute: z.string().default("groups").describe("assertion attribute holding the groups"),
          subject_prefix: z.string().default(""),
          group_prefix: z
            .string()
            .default("")
            .describe("prefix added to every group from this IdP, as identity.issuers[].group_prefix"),
          clock_skew: duration
            .default("60s")
            .describe("tolerated clock difference with the IdP (at most 5m)"),
        }),
      )
      .default([])
      .describe("single sign-on to the console: SAML 2.0 (signed assertions required)"),
  })
  .prefault({});
