/**
 * The RFC 8693 request as it arrives (application/x-www-form-urlencoded), read into a typed shape, and the
 * RFC 6749 §5.2 error every refusal becomes. Pure: no I/O, no token is ever put into an error.
 */
export const TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
export const TOKEN_TYPES = {
  saml2: "urn:ietf:params:oauth:token-type:saml2",
  jwt: "urn:ietf:params:oauth:token-type:jwt",
  accessToken: "urn:ietf:params:oauth:token-type:access_token",
  idToken: "urn:ietf:params:oauth:token-type:id_token",
} as const;
export const JWT_TOKEN_TYPES: readonly string[] = [
  TOKEN_TYPES.jwt,
  TOKEN_TYPES.accessToken,
  TOKEN_TYPES.idToken,
];

/** Every form field is capped: a SAML assertion is the largest thing anyone sends here. */
export const MAX_FORM_BYTES = 256 * 1024;

/** The error codes of RFC 6749 §5.2 and RFC 8693 §2.2.2 this endpoint answers with. */
export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_target"
  | "unsupported_grant_type"
  | "invalid_grant"
  /** Not RFC 6749 §5.2 (a common extension): the store could not check the assertion for replay. */
  | "temporarily_unavailable";

export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

export interface ExchangeRequest {
  readonly subjectToken: string;
  readonly subjectTokenType: string;
  readonly actorToken?: string;
  readonly actorTokenType?: string;
  /** audience and resource values together (both may repeat): each must name a target Latch issues for. */
  readonly targets: readonly string[];
  readonly requestedTokenType?: string;
}

/** Only these may repeat (RFC 8693 §2.1); any other parameter sent twice makes the request invalid. */
const REPEATABLE = new Set(["audience", "resource"]);

export function parseExchangeRequest(body: string): ExchangeRequest {
  const form = new URLSearchParams(body);
  const once = new Map<string, string>();
  const targets: string[] = [];
  for (const [name, value] of form) {
    if (REPEATABLE.has(name)) {
      targets.push(value);
      continue;
    }
    if (once.has(name))
      throw new OAuthError("invalid_request", `the parameter ${safeName(name)} is repeated`);
    once.set(name, value);
  }
  const grant = once.get("grant_type");
  if (grant === undefined || grant === "") throw new OAuthError("invalid_request", "grant_type is missing");
  if (grant !== TOKEN_EXCHANGE_GRANT)
    throw new OAuthError("unsupported_grant_type", `only grant_type=${TOKEN_EXCHANGE_GRANT} is served here`);
  const subjectToken = once.get("subject_token");
  const subjectTokenType = once.get("subject_token_type");
  if (!subjectToken) throw new OAuthError("invalid_request", "subject_token is missing");
  if (!subjectTokenType) throw new OAuthError("invalid_request", "subject_token_type is missing");
  const actorToken = once.get("actor_token");
  const actorTokenType = once.get("actor_token_type");
  if (actorToken !== undefined && !actorTokenType)
    throw new OAuthError("invalid_request", "actor_token_type is required with actor_token");
  if (actorToken === undefined && actorTokenType !== undefined)
    throw new OAuthError("invalid_request", "actor_token_type was sent without actor_token");
  const requested = once.get("requested_token_type");
  if (requested !== undefined && requested !== TOKEN_TYPES.accessToken && requested !== TOKEN_TYPES.jwt)
    throw new OAuthError(
      "invalid_request",
      `requested_token_type can only be ${TOKEN_TYPES.accessToken} (a JWT access token)`,
    );
  return {
    subjectToken,
    subjectTokenType,
    ...(actorToken === undefined ? {} : { actorToken, actorTokenType: actorTokenType as string }),
    targets,
    ...(requested === undefined ? {} : { requestedTokenType: requested }),
  };
}

/** Parameter names are echoed in errors; values never are. */
function safeName(name: string): string {
  return /^[a-z_]{1,40}$/.test(name) ? name : "(unprintable)";
}
