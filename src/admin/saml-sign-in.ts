import { readFileSync } from "node:fs";
import type { CacheProvider } from "@node-saml/node-saml";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type { LatchConfig } from "../config/schema.js";
import {
  checkAssertion,
  checkSamlProviderSettings,
  createMemoryAssertionClaims,
  createSamlServiceProvider,
  readResponseInResponseTo,
  SAML_REQUEST_TTL_MS,
  type SamlAssertionClaims,
  type SamlProvider,
  samlIdentity,
} from "../identity/saml-assertion.js";
import { type ConsoleSessions, safeReturn } from "./console-sessions.js";
import {
  type FinishedSignIn,
  loggable,
  type PendingSignIns,
  SIGN_IN_NOT_FOUND,
  STORE_DOWN,
  TooManyPendingSignIns,
} from "./pending-sign-ins.js";

/**
 * Console single sign-on with SAML 2.0 (`@node-saml/node-saml`) for IdPs that speak only SAML. Required: a
 * signed assertion from the configured IdP certificate and Issuer, our entity id as audience, our ACS URL as the
 * SubjectConfirmation Recipient, an InResponseTo naming an AuthnRequest this gateway issued in the last ten
 * minutes (kept in the store, taken once, so the IdP's POST may reach any replica), an assertion id never seen before, and times within the configured skew (at most 5 min).
 * The checks themselves are identity/saml-assertion.ts, shared with token exchange.
 */
type Provider = SamlProvider;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/;
const MAX_FORM_BYTES = 256 * 1024;

export function registerSamlSignIn(
  app: FastifyInstance,
  deps: {
    config: LatchConfig;
    sessions: ConsoleSessions;
    pending: PendingSignIns;
    log: Logger;
    /** Used assertion ids, shared by every replica of the store; default: this process's memory. */
    assertionClaims?: SamlAssertionClaims;
    now?: () => number;
  },
): void {
  const now = deps.now ?? Date.now;
  const providers = new Map(deps.config.console.saml.map((provider) => [provider.id, provider]));
  const certs = new Map<string, string>();
  for (const provider of providers.values()) {
    checkSamlProviderSettings(provider, "console.saml");
    try {
      certs.set(provider.id, readFileSync(provider.idp_cert_file, "utf8"));
    } catch {
      throw new Error(`console.saml ${provider.id}: cannot read idp_cert_file ${provider.idp_cert_file}`);
    }
  }
  const assertionClaims = deps.assertionClaims ?? createMemoryAssertionClaims();

  const baseUrl = (request: FastifyRequest) =>
    (
      deps.config.console.public_url ??
      (LOOPBACK.test(request.headers.host ?? "") ? `http://${request.headers.host}` : undefined)
    )?.replace(/\/+$/, "");
  const urls = (base: string, id: string) => ({
    acs: `${base}/console/auth/saml/${id}/acs`,
    entityId: `${base}/console/auth/saml/${id}/metadata`,
  });
  // One SP per request: the request ids it knows are the one pending sign-in at hand (the store holds them all).
  const sp = (provider: Provider, base: string, requestIds: CacheProvider) => {
    const { acs, entityId } = urls(base, provider.id);
    return createSamlServiceProvider(provider, {
      recipient: acs,
      entityId,
      inResponseTo: "always",
      idpCert: certs.get(provider.id)!,
      requestIds,
    });
  };
  const noRequestIds: CacheProvider = {
    saveAsync: async () => null,
    getAsync: async () => null,
    removeAsync: async () => null,
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
      .send(sp(provider, base, noRequestIds).generateServiceProviderMetadata(null));
  });

  app.get<{ Params: { id: string }; Querystring: { return?: string } }>(
    "/console/auth/saml/:id/login",
    async (request, reply) => {
      const provider = providers.get(request.params.id);
      if (provider === undefined) return fail(reply, `no sign-in provider ${request.params.id}`);
      const base = baseUrl(request);
      if (base === undefined)
        return fail(reply, "set console.public_url: the gateway cannot tell the IdP where to send you back");
      let requestId: string | undefined;
      const capture: CacheProvider = {
        ...noRequestIds,
        saveAsync: async (key, value) => {
          requestId = key;
          return { value, createdAt: now() };
        },
      };
      const returnTo = safeReturn(request.query.return);
      try {
        const url = await sp(provider, base, capture).getAuthorizeUrlAsync(returnTo, undefined, {});
        if (requestId === undefined) throw new Error("node-saml issued no AuthnRequest ID");
        await deps.pending.startSaml(requestId, provider.id, { returnTo });
        return reply.header("cache-control", "no-store").redirect(url, 302);
      } catch (error) {
        deps.log.warn({ err: loggable(error) }, "console SAML sign-in: cannot keep the sign-in in the store");
        return fail(reply, error instanceof TooManyPendingSignIns ? error.message : STORE_DOWN);
      }
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
        const refused = (error: unknown) => {
          deps.log.warn({ err: loggable(error), idp: provider.idp_issuer }, "console SAML sign-in refused");
          const reason = error instanceof Error ? error.message : "unknown error";
          return fail(reply, `${provider.name} sign-in was refused (${reason}); sign in again`);
        };
        const inResponseTo = readResponseInResponseTo(response);
        if (inResponseTo === undefined) return fail(reply, SIGN_IN_NOT_FOUND);
        // The signature first, the pending sign-in second: a forged or unsigned response must not use up the
        // sign-in a real user's browser is on its way back with. node-saml binds the Response's (and the signed
        // SubjectConfirmationData's) InResponseTo to this one ID; the store then says whether it is still pending
        // (once, unexpired, for this provider), and its own expiry is the one that counts.
        const requestIds: CacheProvider = {
          ...noRequestIds,
          getAsync: async (key) => (key === inResponseTo ? new Date(now()).toISOString() : null),
        };
        let profile: Awaited<ReturnType<ReturnType<typeof sp>["validatePostResponseAsync"]>>["profile"];
        try {
          ({ profile } = await sp(provider, base, requestIds).validatePostResponseAsync({
            SAMLResponse: response,
          }));
          if (profile === null || typeof profile.nameID !== "string")
            throw new Error("no NameID in the assertion");
        } catch (error) {
          return refused(error);
        }
        let finished: FinishedSignIn;
        try {
          finished = await deps.pending.finishSaml(inResponseTo, provider.id);
        } catch (error) {
          deps.log.warn({ err: loggable(error) }, "console SAML sign-in: the store could not be reached");
          return fail(reply, STORE_DOWN);
        }
        if (finished.refused !== undefined) return fail(reply, finished.refused);
        const { pending } = finished;
        try {
          await checkAssertion(
            profile.getAssertionXml?.() ?? "",
            urls(base, provider.id).acs,
            { store: assertionClaims, issuer: provider.idp_issuer },
            now(),
          );
          await deps.sessions.signIn(reply, samlIdentity(profile, provider, now() + SAML_REQUEST_TTL_MS));
          // The return path kept at the button, not RelayState: the IdP's form could be handed any RelayState.
          return reply.redirect(safeReturn(pending.data.returnTo), 303);
        } catch (error) {
          return refused(error);
        }
      },
    );
  });
}
