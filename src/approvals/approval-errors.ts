/**
 * Refusals of an approver's or requester's action, with the HTTP status the admin API answers. Kept apart
 * from the gateway's LatchError table: these never reach a database client, only the admin API and the CLI.
 */
export const APPROVAL_ERRORS = {
  request_not_found: 404,
  grant_not_found: 404,
  request_not_pending: 409,
  request_expired: 409,
  already_voted: 409,
  grant_already_revoked: 409,
  self_approval: 403,
  not_in_group: 403,
  not_allowed: 403,
  invalid_input: 400,
  approval_not_needed: 409,
  store_unavailable: 503,
} as const;

export type ApprovalErrorCode = keyof typeof APPROVAL_ERRORS;

export class ApprovalError extends Error {
  readonly code: ApprovalErrorCode;

  constructor(code: ApprovalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ApprovalError";
    this.code = code;
  }

  get httpStatus(): number {
    return APPROVAL_ERRORS[this.code];
  }
}

export function isApprovalError(error: unknown): error is ApprovalError {
  return error instanceof ApprovalError;
}
