import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import * as oidc from "openid-client";
import type { Logger } from "pino";
import type { LatchConfig } from "../config/schema.js";
import { resolveSecret } from "../config/secrets.js";
import { readGroupsClaim } from "../identity/groups-claim.js";
import type { Identity } from "../identity/identity.js";
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
 * Console single sign-on with OIDC: authorization code with PKCE (S256), state and nonce, through
 * `openid-client`, which checks the ID token's signature, issuer, audience, nonce and expiry. The person's
 * groups come from the ID token (or userinfo) with the matching identity.issuers entry's groups_claim and
 * prefixes, so one issuer's trust settings hold for the console as for psql and ssh.
 */
type Provider = LatchConfig["console"]["oidc"][number];
type IssuerConfig = LatchConfig["identity"]["issuers"][number];

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/;

export function registerOidcSignIn(
  app: FastifyInstance,
  deps: { config: LatchConfig; sessions: ConsoleSessions; pending: PendingSignIns; log: Logger },
): void {
  const providers = new Map<string, { provider: Provider; issuer: IssuerConfig }>();
  for (const provider of deps.config.console.oidc) {
    const issuer = deps.config.identity.issuers.find((candidate) => candidate.issuer === provider.issuer);
    if (issuer === undefined)
      throw new Error(
        `console.oidc ${provider.id}: issuer ${provider.issuer} is not in identity.issuers; add it there (its groups_claim and prefixes apply to console sign-in)`,
      );
    providers.set(provider.id, { provider, issuer });
  }
  // Discovery once per provider, on first use (the provider may start after the gateway); retried on failure.
  const discovered = new Map<string, Promise<oidc.Configuration>>();
  const configuration = (provider: Provider) => {
    let found = discovered.get(provider.id);
    if (found === undefined) {
      const url = new URL(provider.issuer);
      const secret =
        provider.client_secret === undefined
          ? undefined
          : resolveSecret(provider.client_secret, `console.oidc ${provider.id} client_secret`);
      found = oidc.discovery(
        url,
        provider.client_id,
        secret,
        secret === undefined ? oidc.None() : undefined,
        {
          // Plain http only for an issuer on this machine (tests, a local IdP); anything else must be https.
          ...(url.protocol === "http:" && LOOPBACK.test(url.host)
            ? { execute: [oidc.allowInsecureRequests] }
            : {}),
        },
      );
      found.catch(() => discovered.delete(provider.id));
      discovered.set(provider.id, found);
    }
    return found;
  };

  const callbackUrl = (request: FastifyRequest, id: string): string | undefined => {
    const base =
      deps.config.console.public_url ??
      (LOOPBACK.test(request.headers.host ?? "") ? `http://${request.headers.host}` : undefined);
    return base === undefined ? undefined : `${base.replace(/\/+$/, "")}/console/auth/oidc/${id}/callback`;
  };
  const fail = (reply: FastifyReply, message: string) =>
    reply.redirect(`/console/sign-in?error=${encodeURIComponent(message)}`, 303);

  app.get("/console/auth/providers", async () => ({
    oidc: [...providers.values()].map(({ provider }) => ({ id: provider.id, name: provider.name })),
    saml: deps.config.console.saml.map((provider) => ({ id: provider.id, name: provider.name })),
  }));

  app.get<{ Params: { id: string }; Querystring: { return?: string } }>(
    "/console/auth/oidc/:id/login",
    async (request, reply) => {
      const entry = providers.get(request.params.id);
      if (entry === undefined) return fail(reply, `no sign-in provider ${request.params.id}`);
      const redirectUri = callbackUrl(request, entry.provider.id);
      if (redirectUri === undefined)
        return fail(
          reply,
          "set console.public_url: the gateway cannot tell the identity provider where to send you back",
        );
      let config: oidc.Configuration;
      try {
        config = await configuration(entry.provider);
      } catch (error) {
        deps.log.warn(
          { err: error, issuer: entry.provider.issuer },
          "console sign-in: OIDC discovery failed",
        );
        return fail(reply, `${entry.provider.name} did not answer discovery; try again, or paste a token`);
      }
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      try {
        await deps.pending.startOidc(reply, entry.provider.id, {
          verifier,
          state,
          nonce,
          returnTo: safeReturn(request.query.return),
          redirectUri,
        });
      } catch (error) {
        deps.log.warn({ err: loggable(error) }, "console sign-in: cannot keep the sign-in in the store");
        return fail(reply, error instanceof TooManyPendingSignIns ? error.message : STORE_DOWN);
      }
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: entry.provider.scopes,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        state,
        nonce,
      });
      return reply.header("cache-control", "no-store").redirect(url.href, 302);
    },
  );

  app.get<{ Params: { id: string } }>("/console/auth/oidc/:id/callback", async (request, reply) => {
    const entry = providers.get(request.params.id);
    if (entry === undefined) return fail(reply, SIGN_IN_NOT_FOUND);
    let finished: FinishedSignIn;
    try {
      finished = await deps.pending.finishOidc(request, entry.provider.id);
    } catch (error) {
      deps.log.warn({ err: loggable(error) }, "console sign-in: the store could not be reached");
      return fail(reply, STORE_DOWN);
    }
    if (finished.refused !== undefined) return fail(reply, finished.refused);
    const flow = finished.pending.data;
    try {
      const config = await configuration(entry.provider);
      const current = new URL(request.url, flow.redirectUri);
      const tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: flow.verifier!,
        expectedState: flow.state!,
        expectedNonce: flow.nonce!,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (claims === undefined) throw new Error("no ID token");
      let source: Record<string, unknown> = claims;
      if (readGroupsClaim(claims, entry.issuer.groups_claim).length === 0 && tokens.access_token) {
        // Providers that keep groups out of the ID token answer them at userinfo.
        source = { ...claims, ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)) };
      }
      await deps.sessions.signIn(reply, identityFrom(source, claims.sub, entry.issuer));
      return reply.redirect(safeReturn(flow.returnTo), 303);
    } catch (error) {
      // Only the error's name and message: openid-client attaches what it compared (the expected nonce) as its cause.
      deps.log.warn({ err: loggable(error), issuer: entry.provider.issuer }, "console sign-in refused");
      const reason = error instanceof Error ? error.message : "unknown error";
      return fail(reply, `${entry.provider.name} sign-in was refused (${reason}); sign in again`);
    }
  });

  app.post("/console/auth/logout", async (request, reply) => {
    const caller = await deps.sessions.caller(request);
    if (caller !== undefined && request.headers["x-csrf-token"] !== caller.csrf)
      return reply.code(403).send({ error: "csrf", message: "missing or wrong X-CSRF-Token" });
    await deps.sessions.signOut(request, reply);
    return { signedOut: true };
  });
}

function identityFrom(claims: Record<string, unknown>, sub: string, issuer: IssuerConfig): Identity {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the subject lands in policy and audit records
  if (sub.trim() === "" || /[\u0000-\u001f\u007f]/.test(sub))
    throw new Error("the ID token's sub is unusable");
  return {
    subject: issuer.subject_prefix + sub,
    issuer: issuer.issuer,
    groups: readGroupsClaim(claims, issuer.groups_claim).map((group) => issuer.group_prefix + group),
    expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : Date.now(),
  };
}
