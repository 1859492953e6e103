import { errors } from "jose";
import { LatchError } from "../errors.js";
import { IssuerKeysUnavailableError } from "./issuer-keys.js";

/** What the verifier knew about the token when it failed; all of it is safe to show the client. */
export interface RejectionContext {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
  /** The token's `alg` header, already made printable. */
  readonly alg: string;
  readonly hasKid: boolean;
  readonly hasCrit: boolean;
  /** Hint for a token whose key is not in the issuer's set (the dev issuer points at --data-dir). */
  readonly unknownKeyHint: string;
}

export function tokenInvalid(reason: string): LatchError {
  return new LatchError("token_invalid", { reason });
}

/**
 * Turns whatever jose (or the key fetch) threw into the one LatchError the client sees: a short reason that
 * says what was wrong and never echoes the token. Anything unrecognised still rejects (fail closed).
 */
export function rejectionFor(error: unknown, context: RejectionContext): LatchError {
  if (error instanceof LatchError) return error;
  if (error instanceof errors.JWTExpired) {
    const exp = (error.payload as { exp?: unknown }).exp;
    return new LatchError("token_expired", { expiredAt: typeof exp === "number" ? isoSeconds(exp) : "?" });
  }
  if (error instanceof errors.JWTClaimValidationFailed) return claimRejection(error, context);
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return tokenInvalid(
      `algorithm ${context.alg} is not accepted for issuer ${context.issuer} (allowed: ${context.algorithms.join(", ")})`,
    );
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return tokenInvalid("signature does not verify");
  if (error instanceof errors.JWKSNoMatchingKey) {
    const what = context.hasKid ? "the token's key id (kid)" : `a ${context.alg} token without a key id`;
    return tokenInvalid(`no signing key of ${context.issuer} matches ${what}${context.unknownKeyHint}`);
  }
  if (error instanceof IssuerKeysUnavailableError) {
    return tokenInvalid(`signing keys of ${context.issuer} are unavailable: ${error.message}`);
  }
  if (error instanceof errors.JWKSInvalid || error instanceof errors.JWKInvalid) {
    return tokenInvalid(`the matching signing key of ${context.issuer} is unusable`);
  }
  if (error instanceof errors.JOSENotSupported) {
    return tokenInvalid(
      context.hasCrit
        ? "token marks a header parameter as critical (crit) that Latch does not understand"
        : `algorithm ${context.alg} or its key type is not supported`,
    );
  }
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid) {
    return tokenInvalid(`malformed token: ${error.message}`);
  }
  return new LatchError("token_invalid", { reason: "the token could not be verified" }, { cause: error });
}

function claimRejection(error: errors.JWTClaimValidationFailed, context: RejectionContext): LatchError {
  const payload = error.payload as Record<string, unknown>;
  const missing = error.reason === "missing";
  switch (error.claim) {
    case "aud":
      return tokenInvalid(
        missing ? "token has no aud claim" : `audience does not include ${context.audience}`,
      );
    case "iss":
      return tokenInvalid(missing ? "token has no iss claim" : `issuer is not ${context.issuer}`);
    case "exp":
      return tokenInvalid(
        missing ? "token has no exp claim (an expiry is required)" : "exp claim is not a number",
      );
    case "sub":
      return tokenInvalid("token has no sub claim");
    case "nbf":
      return typeof payload.nbf === "number"
        ? tokenInvalid(`token not valid before ${isoSeconds(payload.nbf)}`)
        : tokenInvalid("nbf claim is not a number");
    case "iat":
      return tokenInvalid("iat claim is not a number");
    default:
      return tokenInvalid(`claim ${printable(error.claim)} is invalid`);
  }
}

function isoSeconds(epochSeconds: number): string {
  const date = new Date(epochSeconds * 1000);
  return Number.isNaN(date.getTime()) ? String(epochSeconds) : date.toISOString();
}

/** Attacker-chosen header and claim values are shown quoted, printable and short. */
export function printable(value: unknown, maxLength = 64): string {
  const text = typeof value === "string" ? value : String(value);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const cleaned = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  const clipped = cleaned.length > maxLength ? `${cleaned.slice(0, maxLength)}...` : cleaned;
  return JSON.stringify(clipped);
}
