import {
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import type { LatchConfig } from "../config/schema.js";
import { LatchError } from "../errors.js";
import { parseActClaim } from "./act-claim.js";
import { createDevIssuerKeys, DEV_ALGORITHM, DEV_AUDIENCE, DEV_ISSUER } from "./dev-issuer.js";
import { readGroupsClaim } from "./groups-claim.js";
import type { Identity, TokenVerifier } from "./identity.js";
import { createIssuerKeys, IssuerKeysUnavailableError, requireSafeUrl } from "./issuer-keys.js";
import { parseDuration } from "./parse-duration.js";
import { printable, type RejectionContext, rejectionFor, tokenInvalid } from "./token-rejection.js";
import { VerifiedTokens } from "./verified-tokens.js";

/** Real-world tokens are 1-2 KiB; the cap is checked before any parsing so size alone cannot cost us. */
export const MAX_TOKEN_BYTES = 8 * 1024;

/** Signature algorithms a key set may ever verify with. Symmetric (HS*) and `none` are never accepted. */
const ASYMMETRIC_ALGORITHMS = new Set([
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
]);

export interface TokenVerifierOptions {
  /** Where the dev issuer key lives (`data_dir`). */
  readonly dataDir: string;
  /** Timeout for each discovery and JWKS fetch. Default 5 s. */
  readonly fetchTimeoutMs?: number;
  /** How long a fetched JWKS is trusted before it is fetched again. Default 10 min. */
  readonly jwksCacheMaxAgeMs?: number;
  /** Minimum gap between JWKS refetches triggered by unknown key ids. Default 30 s. */
  readonly jwksCooldownMs?: number;
  /** After a failed discovery or JWKS fetch, fail fast for this long. Default 10 s. */
  readonly retryAfterFailureMs?: number;
  /** Milliseconds since the epoch, for exp and nbf. Default `Date.now`. */
  readonly now?: () => number;
  /**
   * How long a verified token's identity is reused when the same token comes again (signature not checked
   * again; expiry always is). Default 30 s, never more than the JWKS cache age; 0 turns it off.
   */
  readonly verifiedTokenTtlMs?: number;
  /** Latch's own issuer (token exchange): its keys are local, never fetched. */
  readonly localIssuer?: LocalIssuer;
}

/** An issuer whose public keys the gateway holds itself (its own token-exchange issuer). */
export interface LocalIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
  readonly keys: JWTVerifyGetKey;
}

interface TrustedIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
  readonly groupsClaim: string;
  readonly subjectPrefix: string;
  readonly groupPrefix: string;
  /** Tokens with an `act` claim are accepted (identity.issuers[].delegation). */
  readonly delegation: boolean;
  readonly keys: JWTVerifyGetKey;
  readonly unknownKeyHint: string;
}

/**
 * Verifies bearer tokens against the configured issuers (RFC 8725 rules): the unverified `iss` only picks
 * which issuer's keys and settings apply; everything else is checked by jose against that issuer alone.
 */
export function createTokenVerifier(
  identity: LatchConfig["identity"],
  options: TokenVerifierOptions,
): TokenVerifier {
  const trusted = trustedIssuers(identity, options);
  const clockSkewSeconds = Math.ceil(parseDuration(identity.clock_skew) / 1000);
  const now = options.now ?? (() => Date.now());
  const verified = new VerifiedTokens(
    Math.min(options.verifiedTokenTtlMs ?? 30_000, options.jwksCacheMaxAgeMs ?? 10 * 60_000),
  );

  return {
    async verify(token: string): Promise<Identity> {
      if (typeof token !== "string" || token.trim() === "") throw new LatchError("token_missing");
      if (token.length > MAX_TOKEN_BYTES || Buffer.byteLength(token) > MAX_TOKEN_BYTES) {
        throw tokenInvalid(`token is larger than ${MAX_TOKEN_BYTES} bytes`);
      }
      const seen = verified.get(token, now());
      if (seen !== undefined) return seen; // its entry never outlives exp
      const { header, claims } = peek(token);
      const issuerName = claims.iss;
      if (typeof issuerName !== "string") throw tokenInvalid("token has no iss claim");
      const issuer = trusted.get(issuerName);
      if (issuer === undefined) throw unknownIssuer(issuerName, identity.dev_issuer);

      const context: RejectionContext = {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: issuer.algorithms,
        alg: printable(header.alg, 16),
        hasKid: header.kid !== undefined,
        hasCrit: header.crit !== undefined,
        unknownKeyHint: issuer.unknownKeyHint,
      };
      let payload: JWTPayload;
      const verifiedAt = now();
      try {
        ({ payload } = await jwtVerify(token, issuer.keys, {
          issuer: issuer.issuer,
          audience: issuer.audience,
          algorithms: [...issuer.algorithms],
          currentDate: new Date(verifiedAt),
          clockTolerance: clockSkewSeconds,
          requiredClaims: ["exp", "sub"],
          // No `crit` option: any critical extension header is unknown to us, so the token is refused.
        }));
      } catch (error) {
        throw rejectionFor(error, context);
      }
      // The skew forgives an issuer clock that runs ahead (nbf, iat), never a token that has run out: its
      // session would end at exp anyway, at the first statement, so it is refused here, at login.
      if ((payload.exp as number) * 1000 <= verifiedAt) {
        throw new LatchError("token_expired", {
          expiredAt: new Date((payload.exp as number) * 1000).toISOString(),
        });
      }
      const established = identityFrom(payload, issuer);
      verified.set(token, established, verifiedAt);
      return established;
    },
  };
}

function identityFrom(payload: JWTPayload, issuer: TrustedIssuer): Identity {
  const { sub, exp, jti } = payload;
  if (typeof sub !== "string" || sub.trim() === "") throw tokenInvalid("sub claim is empty or not a string");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the subject lands in policy and audit records
  if (/[\u0000-\u001f\u007f]/.test(sub)) throw tokenInvalid("sub claim contains control characters");
  const actors = parseActClaim(payload.act);
  if (actors !== undefined && !issuer.delegation)
    throw tokenInvalid(
      `the token carries an act claim (delegation) and issuer ${issuer.issuer} is not configured for it: set identity.issuers[].delegation: true`,
    );
  return {
    ...(actors === undefined ? {} : { actors }),
    subject: issuer.subjectPrefix + sub,
    issuer: issuer.issuer,
    groups: readGroupsClaim(payload, issuer.groupsClaim).map((group) => issuer.groupPrefix + group),
    expiresAt: (exp as number) * 1000,
    ...(typeof jti === "string" && jti !== "" ? { tokenId: jti } : {}),
  };
}

function peek(token: string): { header: Record<string, unknown>; claims: JWTPayload } {
  const parts = token.split(".").length;
  if (parts === 5) throw tokenInvalid("encrypted tokens (JWE) are not accepted: send a signed JWT");
  if (parts !== 3) throw tokenInvalid(`malformed token: a JWT has 3 dot-separated parts, this has ${parts}`);
  try {
    return { header: decodeProtectedHeader(token) as Record<string, unknown>, claims: decodeJwt(token) };
  } catch {
    throw tokenInvalid("malformed token: header or payload is not base64url-encoded JSON");
  }
}

function unknownIssuer(issuerName: string, devIssuerEnabled: boolean): LatchError {
  const shown = printable(issuerName, 128);
  const hint =
    issuerName === DEV_ISSUER && !devIssuerEnabled
      ? " (the local dev issuer, disabled here: identity.dev_issuer)"
      : "";
  return new LatchError("issuer_unknown", { issuer: `${shown}${hint}` });
}

function trustedIssuers(
  identity: LatchConfig["identity"],
  options: TokenVerifierOptions,
): Map<string, TrustedIssuer> {
  const keyOptions = {
    fetchTimeoutMs: options.fetchTimeoutMs ?? 5_000,
    cacheMaxAgeMs: options.jwksCacheMaxAgeMs ?? 10 * 60_000,
    cooldownMs: options.jwksCooldownMs ?? 30_000,
    retryAfterFailureMs: options.retryAfterFailureMs ?? 10_000,
  };
  const trusted = new Map<string, TrustedIssuer>();
  for (const config of identity.issuers) {
    if (trusted.has(config.issuer)) configError(`identity.issuers lists ${config.issuer} twice`);
    const algorithms = config.algorithms.filter((alg) => ASYMMETRIC_ALGORITHMS.has(alg));
    if (algorithms.length === 0) configError(`identity.issuers ${config.issuer}: no asymmetric algorithm`);
    for (const [what, url] of [
      ["issuer", config.issuer],
      ["jwks_uri", config.jwks_uri],
    ] as const) {
      if (url === undefined) continue;
      try {
        requireSafeUrl(url, what);
      } catch (error) {
        configError(`identity.issuers ${config.issuer}: ${(error as Error).message}`);
      }
    }
    trusted.set(config.issuer, {
      issuer: config.issuer,
      audience: config.audience,
      algorithms,
      groupsClaim: config.groups_claim,
      subjectPrefix: config.subject_prefix,
      groupPrefix: config.group_prefix,
      delegation: config.delegation,
      keys: createIssuerKeys(config.issuer, config.jwks_uri, keyOptions),
      unknownKeyHint: "",
    });
  }
  if (identity.dev_issuer) {
    if (trusted.has(DEV_ISSUER)) configError(`identity.issuers must not use the reserved name ${DEV_ISSUER}`);
    const devKeys = createDevIssuerKeys(options.dataDir);
    trusted.set(DEV_ISSUER, {
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      algorithms: [DEV_ALGORITHM],
      groupsClaim: "groups",
      subjectPrefix: "",
      groupPrefix: "",
      delegation: false,
      keys: async (header, token) => {
        try {
          return await devKeys(header, token);
        } catch (error) {
          if (error instanceof errors.JOSEError) throw error;
          throw new IssuerKeysUnavailableError(`dev issuer key: ${(error as Error).message}`);
        }
      },
      unknownKeyHint: ` (was it minted with a different --data-dir than this gateway's ${options.dataDir}?)`,
    });
  }
  const local = options.localIssuer;
  if (local !== undefined) {
    if (trusted.has(local.issuer))
      configError(`identity.token_exchange.issuer ${local.issuer} is also listed in identity.issuers`);
    // Its tokens already carry prefixed subjects and groups and the act chain Latch built: taken as they are.
    trusted.set(local.issuer, {
      issuer: local.issuer,
      audience: local.audience,
      algorithms: local.algorithms,
      groupsClaim: "groups",
      subjectPrefix: "",
      groupPrefix: "",
      delegation: true,
      keys: local.keys,
      unknownKeyHint: " (was it issued with a signing key this gateway no longer has?)",
    });
  }
  return trusted;
}

function configError(detail: string): never {
  throw new LatchError("config_invalid", { detail });
}
