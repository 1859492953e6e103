import type { LatchError } from "../../errors.js";
import { encodeErrorResponse, encodeNoticeResponse } from "./encode-backend.js";
import type { ErrorFields } from "./messages.js";

const HINTS: Partial<Record<LatchError["code"], string>> = {
  token_missing: "Mint a token (latch token --sub NAME --group G) and pass it as the password.",
  token_invalid:
    "Fetch a fresh token from your identity provider; Latch verifies issuer, audience, expiry and signature.",
  token_expired: "Fetch a fresh token and reconnect.",
  statement_denied:
    "Ask an administrator to extend the policy, or run `latch policy test` to see which rule applies.",
  tls_required: "Add sslmode=require to the connection string.",
  connection_unknown:
    "The database name selects the connection; ask the operator for the list of connections.",
};

/** The one place a LatchError becomes a PostgreSQL ErrorResponse. */
export function errorFrame(error: LatchError, severity: "ERROR" | "FATAL" = "ERROR"): Buffer {
  return encodeErrorResponse(errorFields(error, severity));
}

export function errorFields(error: LatchError, severity: "ERROR" | "FATAL"): ErrorFields {
  const hint = HINTS[error.code];
  return {
    severity,
    code: error.sqlstate,
    message: error.message,
    ...(hint === undefined ? {} : { hint }),
    detail: `latch error code: ${error.code}`,
  };
}

export function noticeFrame(message: string): Buffer {
  return encodeNoticeResponse({ severity: "NOTICE", code: "00000", message });
}

export { asLatchError } from "../../errors.js";
