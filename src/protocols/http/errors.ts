import type { ErrorCode, LatchError } from "../../errors.js";
import type { HttpExchangeResponse } from "./exchange-types.js";

/**
 * The one place a LatchError becomes what an HTTP client sees: a status and an RFC 9457 problem document
 * (`application/problem+json`) naming the Latch code, the rules that decided (when policy did) and what to do.
 */
export const PROBLEM_CONTENT_TYPE = "application/problem+json";

const STATUS: Partial<Record<ErrorCode, number>> = {
  token_missing: 401,
  token_invalid: 401,
  token_expired: 401,
  issuer_unknown: 401,
  session_token_expired: 401,
  principal_blocked: 403,
  connection_unknown: 404,
  message_too_large: 413,
  statement_denied: 403,
  approval_denied: 403,
  approval_expired: 403,
  approval_deferred: 202,
  response_withheld: 502,
  upstream_unavailable: 502,
  upstream_protocol: 502,
  upstream_auth_failed: 502,
  too_many_connections: 503,
  too_many_handshakes: 429,
  upstream_too_many_connections: 503,
  audit_unavailable: 503,
  store_unavailable: 503,
  approval_unavailable: 503,
  policy_error: 503,
  session_terminated: 503,
  gateway_shutting_down: 503,
  transaction_aborted: 409,
  internal: 500,
  config_invalid: 500,
  audit_chain_broken: 500,
};

/** What to do, where the message alone does not say it in HTTP terms. */
const FIX: Partial<Record<ErrorCode, string>> = {
  token_missing:
    "send Authorization: Bearer <token> with a Latch OIDC token (latch token ..., or your CI's OIDC token)",
  token_invalid: "send a token from a trusted issuer, with audience latch",
  token_expired: "fetch a fresh token and send the request again",
  session_token_expired: "fetch a fresh token and send the request again",
  connection_unknown: "start the path with the name of a configured http connection: /<connection>/<path>",
  statement_denied: "ask for a policy that permits this action on this connection (docs/policy.md)",
  http_request_refused: "send the request in its plain form (docs/http.md lists what is refused and why)",
  message_too_large: "send a smaller body, or ask the operator to raise the connection's inspect_limit",
  approval_deferred: "retry the same request after an approver released it (latch requests approve <id>)",
  approval_denied: "ask an approver why, or send another request",
  approval_expired: "send the request again and ask an approver to decide in time",
  upstream_unavailable: "check that the upstream is up, then retry",
  response_withheld: "ask the operator to adjust unmasked_types or the masking profile of this connection",
};

export function httpStatusOf(error: LatchError): number {
  if (STATUS[error.code] !== undefined) return STATUS[error.code]!;
  return error.spec.class === "denial" ? 403 : error.spec.class === "identity" ? 401 : 400;
}

export interface Problem {
  readonly status: number;
  readonly body: string;
}

/** The problem document; `rules` are the policies that decided, when policy did. */
export function problemOf(error: LatchError, rules: readonly string[] = [], requestId?: string): Problem {
  const status = httpStatusOf(error);
  const body = JSON.stringify({
    type: `urn:latch:error:${error.code}`,
    title: error.code,
    status,
    detail: error.message,
    code: error.code,
    ...(rules.length === 0 ? {} : { rules }),
    ...(requestId === undefined ? {} : { requestId }),
    fix: FIX[error.code] ?? error.message,
  });
  return { status, body };
}

/** A whole HTTP/1.1 response, for answers written on a raw socket (parser errors, refused connections). */
export function rawProblemResponse(error: LatchError): Buffer {
  const { status, body } = problemOf(error);
  return Buffer.from(
    `HTTP/1.1 ${status} ${status === 400 ? "Bad Request" : "Error"}\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * A refusal as an exchange answers it: the problem document, the approval request it names, and for an
 * identity error the Bearer challenge. `close`: the request was refused before its body was read.
 */
export function problemResponse(
  error: LatchError,
  rules: readonly string[],
  requestId: string | undefined,
  close = false,
): HttpExchangeResponse {
  const problem = problemOf(error, rules, requestId);
  const headers = ["content-type", PROBLEM_CONTENT_TYPE];
  if (requestId !== undefined) headers.push("latch-request-id", requestId);
  if (error.spec.class === "identity")
    headers.push("www-authenticate", `Bearer realm="latch", error="invalid_token"`);
  return { status: problem.status, headers, body: Buffer.from(problem.body), ...(close ? { close } : {}) };
}

/** The problem response for an error raised before a session exists (identity, routing). */
export function problemResponseOf(error: LatchError, close = false): HttpExchangeResponse {
  return problemResponse(error, [], undefined, close);
}
