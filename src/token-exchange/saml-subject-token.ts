import { readFileSync } from "node:fs";
import type { SAML } from "@node-saml/node-saml";
import type { LatchConfig } from "../config/schema.js";
import type { Identity } from "../identity/identity.js";
import {
  checkAssertion,
  checkSamlProviderSettings,
  createMemoryAssertionClaims,
  createSamlServiceProvider,
  ReplayCheckUnavailable,
  SAML_REQUEST_TTL_MS,
  type SamlAssertionClaims,
  type SamlProvider,
  samlIdentity,
} from "../identity/saml-assertion.js";
import { OAuthError } from "./exchange-request.js";

/**
 * A SAML 2.0 assertion presented as a subject token (RFC 8693 `...:token-type:saml2`, base64url), checked by the
 * same node-saml validation as console sign-in: signed by the IdP's certificate, its Issuer, our SP entity id as
 * Audience, within the validity window and bounded skew, never used before. There is no AuthnRequest to answer:
 * instead the assertion must be addressed to the token endpoint (SubjectConfirmationData Recipient, as RFC 7522
 * has it for SAML bearer assertions). The caller's identity is the NameID and the groups attribute.
 */
export interface SamlSubjectTokens {
  validate(token: string, at: number): Promise<{ identity: Identity; idp: string }>;
}

/** node-saml validates a Response; a bare assertion is wrapped in an unsigned one (only the assertion counts). */
const wrap = (assertion: string) =>
  `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_latch-exchange" Version="2.0" IssueInstant="${new Date().toISOString()}"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>${assertion}</samlp:Response>`;

export function createSamlSubjectTokens(
  config: LatchConfig,
  urls: { tokenEndpoint: string; entityBase: string },
  /** Used assertion ids, shared by every replica of the store; default: this process's memory. */
  claims: SamlAssertionClaims = createMemoryAssertionClaims(),
): SamlSubjectTokens {
  const byIssuer = new Map<string, { provider: SamlProvider; sp: SAML }>();
  for (const id of config.identity.token_exchange.accept.saml) {
    const provider = config.console.saml.find((candidate) => candidate.id === id);
    if (provider === undefined)
      throw new Error(`identity.token_exchange.accept.saml names ${id}, which is not one of console.saml`);
    checkSamlProviderSettings(provider, "console.saml");
    let idpCert: string;
    try {
      idpCert = readFileSync(provider.idp_cert_file, "utf8");
    } catch {
      throw new Error(`console.saml ${provider.id}: cannot read idp_cert_file ${provider.idp_cert_file}`);
    }
    const sp = createSamlServiceProvider(provider, {
      recipient: urls.tokenEndpoint,
      entityId: `${urls.entityBase}/console/auth/saml/${provider.id}/metadata`,
      inResponseTo: "never",
      idpCert,
    });
    byIssuer.set(provider.idp_issuer, { provider, sp });
  }
  return {
    async validate(token, at) {
      if (byIssuer.size === 0)
        throw new OAuthError(
          "invalid_request",
          "SAML assertions are not accepted here (identity.token_exchange.accept.saml)",
        );
      const xml = Buffer.from(token, "base64")
        .toString("utf8")
        .replace(/^\uFEFF?\s*<\?xml[^>]*\?>\s*/, "");
      // Which IdP's settings apply is picked by the unverified Issuer; everything is then checked against it alone.
      const issuer = /<(?:\w+:)?Issuer[^>]*>\s*([^<]+?)\s*<\/(?:\w+:)?Issuer>/.exec(xml)?.[1];
      const known = issuer === undefined ? undefined : byIssuer.get(issuer);
      if (!/^<(?:\w+:)?Assertion[\s>]/.test(xml) || known === undefined)
        throw new OAuthError(
          "invalid_request",
          "subject_token is not a SAML 2.0 assertion from an accepted IdP (send the base64url-encoded <Assertion>)",
        );
      const { provider, sp } = known;
      try {
        const { profile } = await sp.validatePostResponseAsync({
          SAMLResponse: Buffer.from(wrap(xml)).toString("base64"),
        });
        if (profile === null || typeof profile.nameID !== "string")
          throw new Error("no NameID in the assertion");
        const checked = await checkAssertion(
          profile.getAssertionXml?.() ?? "",
          urls.tokenEndpoint,
          { store: claims, issuer: provider.idp_issuer },
          at,
        );
        const expiresAt = checked.notOnOrAfter ?? at + SAML_REQUEST_TTL_MS;
        return { identity: samlIdentity(profile, provider, expiresAt), idp: provider.id };
      } catch (error) {
        if (error instanceof OAuthError) throw error;
        if (error instanceof ReplayCheckUnavailable)
          throw new OAuthError(
            "temporarily_unavailable",
            `the SAML assertion was refused: ${error.message}`,
            503,
          );
        const reason = error instanceof Error ? error.message : "unknown error";
        throw new OAuthError("invalid_request", `the SAML assertion was refused: ${reason}`);
      }
    },
  };
}
