import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import type { Logger } from "pino";
import type { LatchConfig } from "../config/schema.js";
import { isLatchError } from "../errors.js";
import { type Actor, MAX_ACTOR_DEPTH } from "../identity/act-claim.js";
import type { Identity, TokenVerifier } from "../identity/identity.js";
import { parseDuration } from "../identity/parse-duration.js";
import type { SamlAssertionClaims } from "../identity/saml-assertion.js";
import type { AuditEventInput } from "../store/store.js";
import {
  type ExchangeRequest,
  JWT_TOKEN_TYPES,
  OAuthError,
  parseExchangeRequest,
  TOKEN_TYPES,
} from "./exchange-request.js";
import { createFailureLimiter } from "./failure-limiter.js";
import type { LatchSigningKey } from "./latch-signing-key.js";
import { createSamlSubjectTokens } from "./saml-subject-token.js";

/**
 * RFC 8693 token exchange: a signed SAML assertion or a trusted issuer's JWT (plus, for delegation, the actor's
 * own JWT) in, a short-lived JWT signed by Latch's own issuer out, carrying the subject, its groups and the `act`
 * chain. Every exchange, issued or refused, is an audit event (never with a token in it); an issued token is
 * recorded durably before it is handed out (fail closed: no record, no token).
 */
export const MAX_EXCHANGE_LIFETIME_MS = 60 * 60_000;

export interface TokenExchangeDeps {
  readonly config: LatchConfig;
  /** The gateway's verifier (every trusted issuer, Latch's own included). */
  readonly verifier: TokenVerifier;
  readonly key: LatchSigningKey;
  /** Latch's issuer URL (`iss` of what it issues); the token endpoint is `<issuer>/oauth/token`. */
  readonly issuer: string;
  readonly recordDurably: (event: AuditEventInput) => Promise<unknown>;
  readonly log: Logger;
  /** Used SAML assertion ids, shared by every replica of the store; default: this process's memory. */
  readonly assertionClaims?: SamlAssertionClaims;
  readonly now?: () => number;
}

export interface ExchangeAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, string>;
}

const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" };

export function tokenEndpointOf(issuer: string): string {
  return `${issuer.replace(/\/+$/, "")}/oauth/token`;
}

export function createTokenExchange(deps: TokenExchangeDeps) {
  const settings = deps.config.identity.token_exchange;
  const now = deps.now ?? Date.now;
  const lifetimeMs = parseDuration(settings.lifetime);
  if (lifetimeMs > MAX_EXCHANGE_LIFETIME_MS || lifetimeMs < 1000)
    throw new Error("identity.token_exchange.lifetime must be between 1s and 1h");
  const tokenEndpoint = tokenEndpointOf(deps.issuer);
  const saml = createSamlSubjectTokens(
    deps.config,
    { tokenEndpoint, entityBase: (deps.config.console.public_url ?? deps.issuer).replace(/\/+$/, "") },
    deps.assertionClaims,
  );
  const acceptedIssuers = new Set(
    settings.accept.issuers ?? [
      ...deps.config.identity.issuers.map((issuer) => issuer.issuer),
      ...(deps.config.identity.dev_issuer ? ["latch-dev"] : []),
    ],
  );
  acceptedIssuers.add(deps.issuer); // a Latch token may be exchanged again to add an actor, never to live longer
  const limiter = createFailureLimiter({ maxPerWindow: settings.max_failures_per_minute, now });

  const verifyJwt = async (token: string, what: string): Promise<Identity> => {
    let identity: Identity;
    try {
      identity = await deps.verifier.verify(token);
    } catch (error) {
      const reason = isLatchError(error) ? error.message : "it could not be verified";
      throw new OAuthError("invalid_request", `${what} was refused: ${reason}`);
    }
    if (!acceptedIssuers.has(identity.issuer))
      throw new OAuthError(
        "invalid_request",
        `${what} comes from ${identity.issuer}, whose tokens are not exchanged here (identity.token_exchange.accept.issuers)`,
      );
    return identity;
  };

  const subjectOf = async (request: ExchangeRequest, at: number) => {
    if (request.subjectTokenType === TOKEN_TYPES.saml2) {
      const { identity, idp } = await saml.validate(request.subjectToken, at);
      return { identity, source: `saml:${idp}` };
    }
    if (JWT_TOKEN_TYPES.includes(request.subjectTokenType)) {
      const identity = await verifyJwt(request.subjectToken, "subject_token");
      return { identity, source: identity.issuer };
    }
    throw new OAuthError(
      "invalid_request",
      "subject_token_type must be a saml2, jwt, access_token or id_token type",
    );
  };

  const issue = async (request: ExchangeRequest, at: number) => {
    for (const target of request.targets)
      if (target !== settings.audience)
        throw new OAuthError(
          "invalid_target",
          `this gateway issues tokens only for the audience ${settings.audience}`,
        );
    const subject = await subjectOf(request, at);
    let actor: Identity | undefined;
    if (request.actorToken !== undefined) {
      if (!JWT_TOKEN_TYPES.includes(request.actorTokenType ?? ""))
        throw new OAuthError(
          "invalid_request",
          "actor_token_type must be a jwt, access_token or id_token type",
        );
      actor = await verifyJwt(request.actorToken, "actor_token");
    }
    // The new actor first, then whoever already acted in the subject token's chain (RFC 8693 §4.1).
    const chain: Actor[] = [
      ...(actor === undefined ? [] : [{ subject: actor.subject, issuer: actor.issuer }]),
      ...(subject.identity.actors ?? []),
    ];
    if (chain.length > MAX_ACTOR_DEPTH)
      throw new OAuthError(
        "invalid_request",
        `the delegation chain would be deeper than ${MAX_ACTOR_DEPTH} actors`,
      );
    const expiresAt = Math.min(at + lifetimeMs, subject.identity.expiresAt, actor?.expiresAt ?? Infinity);
    const expiresIn = Math.floor((expiresAt - at) / 1000);
    if (expiresIn < 1) throw new OAuthError("invalid_request", "the subject or actor token expires too soon");
    const jti = randomUUID();
    const token = await new SignJWT({
      groups: [...subject.identity.groups],
      ...(chain.length === 0 ? {} : { act: actClaim(chain) }),
    })
      .setProtectedHeader({ alg: deps.key.alg, kid: deps.key.kid, typ: "at+jwt" })
      .setIssuer(deps.issuer)
      .setAudience(settings.audience)
      .setSubject(subject.identity.subject)
      .setIssuedAt(Math.floor(at / 1000))
      .setExpirationTime(Math.floor(at / 1000) + expiresIn)
      .setJti(jti)
      .sign(deps.key.privateKey);
    return { token, expiresIn, jti, subject, chain };
  };

  return {
    tokenEndpoint,
    /** Answers one POST /oauth/token body from `address`. */
    async exchange(body: string, address: string): Promise<ExchangeAnswer> {
      const retryAfter = limiter.retryAfterSeconds(address);
      if (retryAfter > 0)
        return {
          status: 429,
          headers: { ...NO_STORE, "retry-after": String(retryAfter) },
          body: {
            error: "invalid_request",
            error_description: `too many failed exchanges from this address; try again in ${retryAfter}s`,
          },
        };
      const at = now();
      let request: ExchangeRequest | undefined;
      try {
        request = parseExchangeRequest(body);
        const issued = await issue(request, at);
        await deps.recordDurably({
          kind: "token_exchange",
          sessionId: null,
          data: {
            outcome: "issued",
            address,
            subject: issued.subject.identity.subject,
            subjectSource: issued.subject.source,
            subjectTokenType: request.subjectTokenType,
            groups: issued.subject.identity.groups,
            actors: issued.chain,
            tokenId: issued.jti,
            expiresAt: new Date(at + issued.expiresIn * 1000).toISOString(),
          },
        });
        return {
          status: 200,
          headers: NO_STORE,
          body: {
            access_token: issued.token,
            issued_token_type: TOKEN_TYPES.accessToken,
            token_type: "Bearer",
            expires_in: issued.expiresIn,
          },
        };
      } catch (error) {
        const refusal = error instanceof OAuthError ? error : undefined;
        if (refusal === undefined) {
          deps.log.error({ err: error }, "token exchange failed");
          return {
            status: 503,
            headers: NO_STORE,
            body: {
              error: "temporarily_unavailable",
              error_description: "the exchange could not be recorded; try again",
            },
          };
        }
        limiter.failed(address);
        deps
          .recordDurably({
            kind: "token_exchange",
            sessionId: null,
            data: {
              outcome: "refused",
              address,
              error: refusal.code,
              reason: refusal.description,
              ...(request === undefined ? {} : { subjectTokenType: request.subjectTokenType }),
            },
          })
          .catch((recordError: unknown) =>
            deps.log.warn({ err: recordError }, "token exchange refusal not recorded"),
          );
        return {
          status: refusal.status,
          headers: NO_STORE,
          body: { error: refusal.code, error_description: refusal.description },
        };
      }
    },
  };
}

export type TokenExchange = ReturnType<typeof createTokenExchange>;

/** The chain as nested RFC 8693 `act` objects, the current actor outermost. */
function actClaim(chain: readonly Actor[]): Record<string, unknown> {
  let claim: Record<string, unknown> | undefined;
  for (const actor of [...chain].reverse())
    claim = {
      sub: actor.subject,
      ...(actor.issuer === undefined ? {} : { iss: actor.issuer }),
      ...(claim ? { act: claim } : {}),
    };
  return claim as Record<string, unknown>;
}
