import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { inflateRawSync } from "node:zlib";
import { generate } from "selfsigned";
import { SignedXml } from "xml-crypto";

/**
 * A SAML 2.0 identity provider substitute for tests: it reads the SP's AuthnRequest (HTTP-Redirect binding),
 * and answers with a page whose "Continue" button posts a Response with an assertion signed by a test key
 * (xml-crypto, RSA-SHA256, exclusive c14n), as Okta or Azure AD would. `signInAs` picks the person; `tamper`
 * lets a test break one thing the SP must check.
 */
export interface TestSamlIdp {
  readonly entityId: string;
  readonly ssoUrl: string;
  /** The PEM certificate file the SP trusts. */
  readonly certFile: string;
  signInAs(nameId: string, groups: readonly string[]): void;
  /** The next responses are built with this change (audience, recipient, or an unsigned assertion). */
  tamper(change: { audience?: string; recipient?: string; unsigned?: boolean } | undefined): void;
  /** The last SAMLResponse posted (base64), to replay it. */
  readonly lastResponse: string | undefined;
  /**
   * A bare assertion (no Response, no InResponseTo) as a subagent's IdP issues for RFC 8693 token exchange,
   * signed unless `unsigned`; times are relative to now (`validForMs` default 5 min, `issuedAgoMs` default 0).
   */
  assertion(input: {
    nameId: string;
    groups: readonly string[];
    audience: string;
    recipient: string;
    unsigned?: boolean;
    validForMs?: number;
    issuedAgoMs?: number;
  }): string;
  close(): Promise<void>;
}

const xmlText = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export async function startSamlIdp(dir: string): Promise<TestSamlIdp> {
  const pems = await generate([{ name: "commonName", value: "latch-test-idp" }], { keySize: 2048 });
  const certFile = path.join(dir, "idp-cert.pem");
  writeFileSync(certFile, pems.cert);
  let person = { nameId: "nobody", groups: [] as readonly string[] };
  let change: { audience?: string; recipient?: string; unsigned?: boolean } | undefined;
  let lastResponse: string | undefined;

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://idp");
    const encoded = url.searchParams.get("SAMLRequest");
    if (url.pathname !== "/sso" || encoded === null) {
      response.writeHead(404).end();
      return;
    }
    const authn = inflateRawSync(Buffer.from(encoded, "base64")).toString("utf8");
    const requestId = /\sID="([^"]+)"/.exec(authn)?.[1] ?? "";
    const acs = /AssertionConsumerServiceURL="([^"]+)"/.exec(authn)?.[1] ?? "";
    const spEntity = /<saml:Issuer[^>]*>([^<]+)<\/saml:Issuer>/.exec(authn)?.[1] ?? "";
    const xml = assertionResponse({
      requestId,
      acs,
      audience: change?.audience ?? spEntity,
      recipient: change?.recipient ?? acs,
      ...person,
    });
    const signed = change?.unsigned ? xml : sign(xml, pems.private, pems.cert);
    lastResponse = Buffer.from(signed).toString("base64");
    const relay = url.searchParams.get("RelayState") ?? "";
    response
      .writeHead(200, { "content-type": "text/html; charset=utf-8" })
      .end(
        `<!doctype html><title>Test IdP</title><form method="post" action="${xmlText(acs)}">` +
          `<input type="hidden" name="SAMLResponse" value="${lastResponse}">` +
          `<input type="hidden" name="RelayState" value="${xmlText(relay)}">` +
          `<p>Signing in as ${xmlText(person.nameId)}</p><button type="submit">Continue</button></form>`,
      );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const entityId = `http://127.0.0.1:${port}/metadata`;

  function assertionResponse(input: {
    requestId: string;
    acs: string;
    audience: string;
    recipient: string;
    nameId: string;
    groups: readonly string[];
  }): string {
    const now = new Date();
    const later = new Date(now.getTime() + 5 * 60_000).toISOString();
    const id = `_a${randomUUID().replaceAll("-", "")}`;
    const values = input.groups
      .map((group) => `<saml:AttributeValue>${xmlText(group)}</saml:AttributeValue>`)
      .join("");
    return (
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomUUID().replaceAll("-", "")}" Version="2.0" IssueInstant="${now.toISOString()}" Destination="${xmlText(input.acs)}" InResponseTo="${input.requestId}">` +
      `<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>` +
      `<saml:Assertion ID="${id}" Version="2.0" IssueInstant="${now.toISOString()}">` +
      `<saml:Issuer>${xmlText(entityId)}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">${xmlText(input.nameId)}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${later}" Recipient="${xmlText(input.recipient)}" InResponseTo="${input.requestId}"/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${now.toISOString()}" NotOnOrAfter="${later}"><saml:AudienceRestriction><saml:Audience>${xmlText(input.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="${id}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      `<saml:AttributeStatement><saml:Attribute Name="groups">${values}</saml:Attribute></saml:AttributeStatement>` +
      `</saml:Assertion></samlp:Response>`
    );
  }

  return {
    entityId,
    ssoUrl: `http://127.0.0.1:${port}/sso`,
    certFile,
    signInAs(nameId, groups) {
      person = { nameId, groups };
    },
    tamper(next) {
      change = next;
    },
    get lastResponse() {
      return lastResponse;
    },
    assertion(input) {
      const issued = new Date(Date.now() - (input.issuedAgoMs ?? 0));
      const until = new Date(issued.getTime() + (input.validForMs ?? 5 * 60_000)).toISOString();
      const id = `_a${randomUUID().replaceAll("-", "")}`;
      const values = input.groups
        .map((group) => `<saml:AttributeValue>${xmlText(group)}</saml:AttributeValue>`)
        .join("");
      const xml =
        `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${issued.toISOString()}">` +
        `<saml:Issuer>${xmlText(entityId)}</saml:Issuer>` +
        `<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified">${xmlText(input.nameId)}</saml:NameID>` +
        `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${until}" Recipient="${xmlText(input.recipient)}"/></saml:SubjectConfirmation></saml:Subject>` +
        `<saml:Conditions NotBefore="${issued.toISOString()}" NotOnOrAfter="${until}"><saml:AudienceRestriction><saml:Audience>${xmlText(input.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
        `<saml:AuthnStatement AuthnInstant="${issued.toISOString()}" SessionIndex="${id}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
        `<saml:AttributeStatement><saml:Attribute Name="groups">${values}</saml:Attribute></saml:AttributeStatement>` +
        `</saml:Assertion>`;
      return input.unsigned ? xml : sign(xml, pems.private, pems.cert);
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function sign(xml: string, privateKey: string, cert: string): string {
  const signer = new SignedXml({
    privateKey,
    publicCert: cert,
    signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#",
  });
  signer.addReference({
    xpath: "//*[local-name(.)='Assertion']",
    transforms: [
      "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
      "http://www.w3.org/2001/10/xml-exc-c14n#",
    ],
    digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256",
  });
  signer.computeSignature(xml, {
    location: { reference: "//*[local-name(.)='Assertion']/*[local-name(.)='Issuer']", action: "after" },
  });
  return signer.getSignedXml();
}
