import type { LatchError } from "../../errors.js";
import {
  encodeSshDisconnectBeforeKex,
  encodeSshIdentification,
  SSH_DISCONNECT_REASON,
  type SshDisconnectReason,
} from "./disconnect.js";

/** Exit status of a command Latch refused, as a shell reports "found but not executable". */
export const DENIED_EXIT_STATUS = 126;
/** Exit status when the target could not be reached, as the ssh client reports its own connection errors. */
export const UPSTREAM_FAILED_EXIT_STATUS = 255;

/**
 * The one place a LatchError becomes what an SSH client sees: a `latch: ...` line on the channel's stderr and
 * an exit status (126 for a refusal, 255 when the gateway or the target failed, like ssh's own errors); before
 * the key exchange, a disconnect with a reason code and the message.
 */
export function sshErrorLine(error: LatchError | string, newline: "\n" | "\r\n"): string {
  return `latch: ${typeof error === "string" ? error : error.message}${newline}`;
}

export function sshExitStatusOf(error: LatchError): number {
  return error.spec.class === "denial" ? DENIED_EXIT_STATUS : UPSTREAM_FAILED_EXIT_STATUS;
}

export function sshDisconnectReasonOf(error: LatchError): SshDisconnectReason {
  if (error.code === "too_many_connections" || error.code === "too_many_handshakes")
    return SSH_DISCONNECT_REASON.TOO_MANY_CONNECTIONS;
  return error.spec.class === "protocol"
    ? SSH_DISCONNECT_REASON.PROTOCOL_ERROR
    : SSH_DISCONNECT_REASON.BY_APPLICATION;
}

/**
 * What a client is told when Latch will not go on before any key exchange (full gateway, handshake deadline):
 * Latch's identification line unless it was sent already, then a disconnect with the reason and the message.
 */
export function sshDisconnectBeforeKex(error: LatchError, identificationSent: boolean): Buffer {
  const disconnect = encodeSshDisconnectBeforeKex(sshDisconnectReasonOf(error), error.message);
  return identificationSent ? disconnect : Buffer.concat([encodeSshIdentification(), disconnect]);
}
