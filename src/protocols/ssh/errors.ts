import type { LatchError } from "../../errors.js";

/** Exit status of a command Latch refused, as a shell reports "found but not executable". */
export const DENIED_EXIT_STATUS = 126;
/** Exit status when the target could not be reached, as the ssh client reports its own connection errors. */
export const UPSTREAM_FAILED_EXIT_STATUS = 255;

/**
 * The one place a LatchError becomes what an SSH client sees: a `latch: ...` line on the channel's stderr and
 * an exit status (126 for a refusal, 255 when the gateway or the target failed, like ssh's own errors).
 */
export function sshErrorLine(error: LatchError | string, newline: "\n" | "\r\n"): string {
  return `latch: ${typeof error === "string" ? error : error.message}${newline}`;
}

export function sshExitStatusOf(error: LatchError): number {
  return error.spec.class === "denial" ? DENIED_EXIT_STATUS : UPSTREAM_FAILED_EXIT_STATUS;
}
