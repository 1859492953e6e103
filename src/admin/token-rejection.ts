import { isLatchError } from "../errors.js";

/**
 * Why a token was refused, without the "token rejected:" prefix the 401 already means (the console puts it in
 * front of this message; saying it twice read "token rejected: token rejected: ...").
 */
export function rejectionMessage(error: unknown): string {
  if (!isLatchError(error)) return "the token could not be verified";
  if (error.code === "token_invalid" && typeof error.params.reason === "string") return error.params.reason;
  return error.message;
}
