import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { SAML, ValidateInResponseTo } from "@node-saml/node-saml";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { LatchConfig } from "../config/schema.js";
import type { Identity } from "../identity/identity.js";
import { parseDuration } from "../identity/parse-duration.js";
import { type ConsoleSessions, safeReturn } from "./console-sessions.js";

/**
 * Console single sign-on with SAML 2.0 (`@node-saml/node-saml`) for IdPs that speak only SAML. Required: a
 * signed assertion from the configured IdP certificate and Issuer, our entity id as audience, our ACS URL as the
 * SubjectConfirmation Recipient, an InResponseTo naming an AuthnRequest this gateway issued in the last ten
 * minutes (used once), an assertion id never seen before, and times within the configured skew (at most 5 min).
 */
type Provider = LatchConfig["console"]["saml"][number];

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/;
const REQUEST_TTL_MS = 10 * 60_000;
const MAX_SKEW_MS = 5 * 60_000;
const MAX_SEEN = 10_000;
const MAX_FORM_BYTES = 256 * 1024;
const SAML_ASSERTION_NS = "urn:oasis:names:tc:SAML:2.0:assertion";

// @xmldom/xmldom (node-saml's own XML parser) is loaded untyped: its declarations pull the browser's DOM types
// into the whole Node build. These few members are all this file reads.
interface XmlElement {
  readonly localName: string;
  getAttribute(name: string): string | null;
}
interface XmlDocument {
  readonly documentElement: XmlElement | null;
  getElementsByTagNameNS(
    ns: string,
    name: string,
  ): { readonly length: number; item(i: number): XmlElement | null };
}
const { DOMParser } = createRequire(import.meta.url)("@xmldom/xmldom") as {
  DOMParser: new () => { parseFromString(xml: string, type: string): XmlDocument };
};

export function registerSamlSignIn(
  app: FastifyInstance,
  deps: { config: LatchConfig; sessions: ConsoleSessions; log: Logger; now?: () => number },
): void {
  const now = deps.now ?? Date.now;
  const providers = new Map(deps.config.console.saml.map((provider) => [provider.id, provider]));
  const certs = new Map<string, string>();
  for (const provider of providers.values()) {
    if (parseDuration(provider.clock_skew) > MAX_SKEW_MS)
      throw new Error(`console.saml ${provider.id}: clock_skew is at most 5m`);
    try {
      certs.set(provider.id, readFileSync(provider.idp_cert_file, "utf8"));
    } catch {
      throw new Error(`console.saml ${provider.id}: cannot read idp_cert_file ${provider.idp_cert_file}`);
    }
  }
  // One SP per provider and base URL (its ACS URL is part of every check); their caches hold issued request ids.
  const sps = new Map<string, SAML>();
  const seenAssertions = new Map<string, number>();

  const baseUrl = (request: FastifyRequest) =>
    (
      deps.config.console.public_url ??
      (LOOPBACK.test(request.headers.host ?? "") ? `http://${request.headers.host}` : undefined)
    )?.replace(/\/+$/, "");
  const urls = (base: string, id: string) => ({
    acs: `${base}/console/auth/saml/${id}/acs`,
    entityId: `${base}/console/auth/saml/${id}/metadata`,
  });
  const sp = (provider: Provider, base: string) => {
    const key = `${provider.id} ${base}`;
    let found = sps.get(key);
    if (found === undefined) {
      const { acs, entityId } = urls(base, provider.id);
      found = new SAML({
        callbackUrl: acs,
        entryPoint: provider.entry_point,
        issuer: entityId,
        audience: entityId,
        idpCert: certs.get(provider.id)!,
        idpIssuer: provider.idp_issuer,
        wantAssertionsSigned: true,
        wantAuthnResponseSigned: false,
        acceptedClockSkewMs: parseDuration(provider.clock_skew),
        maxAssertionAgeMs: REQUEST_TTL_MS,
        validateInResponseTo: ValidateInResponseTo.always,
        requestIdExpirationPeriodMs: REQUEST_TTL_MS,
        disableRequestedAuthnContext: true,
      });
      sps.set(key, found);
    }
    return found;
  };
  const fail = (reply: FastifyReply, message: string) =>
    reply.redirect(`/console/sign-in?error=${encodeURIComponent(message)}`, 303);

  app.get<{ Params: { id: string } }>("/console/auth/saml/:id/metadata", async (request, reply) => {
    const provider = providers.get(request.params.id);
    const base = baseUrl(request);
    if (provider === undefined || base === undefined)
      return reply
        .code(404)
        .send({ error: "not_found", message: "no such SAML provider (or set console.public_url)" });
    return reply
      .type("application/samlmetadata+xml")
      .send(sp(provider, base).generateServiceProviderMetadata(null));
  });

  app.get<{ Params: { id: string }; Querystring: { return?: string } }>(
    "/console/auth/saml/:id/login",
    async (request, reply) => {
      const provider = providers.get(request.params.id);
      if (provider === undefined) return fail(reply, `no sign-in provider ${request.params.id}`);
      const base = baseUrl(request);
      if (base === undefined)
        return fail(reply, "set console.public_url: the gateway cannot tell the IdP where to send you back");
      const url = await sp(provider, base).getAuthorizeUrlAsync(
        safeReturn(request.query.return),
        undefined,
        {},
      );
      return reply.header("cache-control", "no-store").redirect(url, 302);
    },
  );

  // The IdP posts the response as a form (HTTP-POST binding): parsed here only, for this route.
  app.register(async (scope) => {
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: MAX_FORM_BYTES },
      (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
    );
    scope.post<{ Params: { id: string }; Body: Record<string, string> }>(
      "/console/auth/saml/:id/acs",
      async (request, reply) => {
        const provider = providers.get(request.params.id);
        const base = baseUrl(request);
        const response = request.body?.SAMLResponse;
        if (provider === undefined || base === undefined || typeof response !== "string")
          return fail(reply, "this sign-in response is not for this gateway; sign in again");
        try {
          const { profile } = await sp(provider, base).validatePostResponseAsync({ SAMLResponse: response });
          if (profile === null || typeof profile.nameID !== "string")
            throw new Error("no NameID in the assertion");
          checkAssertion(
            profile.getAssertionXml?.() ?? "",
            urls(base, provider.id).acs,
            seenAssertions,
            now(),
          );
          deps.sessions.signIn(reply, identityFrom(profile, provider, now()));
          return reply.redirect(safeReturn(request.body.RelayState), 303);
        } catch (error) {
          deps.log.warn({ err: error, idp: provider.idp_issuer }, "console SAML sign-in refused");
          const reason = error instanceof Error ? error.message : "unknown error";
          return fail(reply, `${provider.name} sign-in was refused (${reason}); sign in again`);
        }
      },
    );
  });
}

/** What node-saml leaves to the caller: the Recipient, and that this assertion was never used before. */
function checkAssertion(xml: string, acs: string, seen: Map<string, number>, at: number): void {
  const doc = new DOMParser().parseFromString(xml, "text/xml");
  const confirmations = doc.getElementsByTagNameNS(SAML_ASSERTION_NS, "SubjectConfirmationData");
  const recipients = Array.from({ length: confirmations.length }, (_, i) =>
    confirmations.item(i)?.getAttribute("Recipient"),
  );
  if (recipients.length === 0 || recipients.some((recipient) => recipient !== acs))
    throw new Error(`the assertion's Recipient is not ${acs}`);
  const root = doc.documentElement;
  const id = root?.localName === "Assertion" ? root.getAttribute("ID") : null;
  if (!id) throw new Error("the assertion has no ID");
  for (const [key, until] of seen) if (until <= at) seen.delete(key);
  if (seen.has(id)) throw new Error("this assertion was already used");
  while (seen.size >= MAX_SEEN) seen.delete(seen.keys().next().value as string);
  seen.set(id, at + REQUEST_TTL_MS + MAX_SKEW_MS);
}

function identityFrom(profile: Record<string, unknown>, provider: Provider, at: number): Identity {
  const nameId = String(profile.nameID);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the subject lands in policy and audit records
  if (nameId.trim() === "" || /[\u0000-\u001f\u007f]/.test(nameId)) throw new Error("the NameID is unusable");
  const raw =
    profile[provider.groups_attribute] ??
    (profile.attributes as Record<string, unknown> | undefined)?.[provider.groups_attribute];
  const groups = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
    .filter((group): group is string => typeof group === "string" && group.trim() !== "")
    .map((group) => provider.group_prefix + group.trim());
  return {
    subject: provider.subject_prefix + nameId,
    issuer: provider.idp_issuer,
    groups: [...new Set(groups)],
    expiresAt: at + REQUEST_TTL_MS,
  };
}
