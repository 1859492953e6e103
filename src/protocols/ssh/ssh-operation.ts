import { randomUUID } from "node:crypto";
import type { Identity } from "../../identity/identity.js";
import type { Operation, OperationStep } from "../../operation/operation.js";

/** The SSH request kinds Latch decides on; each is one Cedar action of the ssh family. */
export type SshVerb =
  | "ssh:exec"
  | "ssh:shell"
  | "ssh:sftp"
  | "ssh:subsystem"
  | "ssh:port_forward"
  | "ssh:agent_forward"
  | "ssh:env";

/** Longest command line accepted; longer ones are refused rather than judged on a cut-down text. */
export const MAX_COMMAND_BYTES = 64 * 1024;

export interface SshOperationScope {
  readonly sessionId: string;
  readonly connection: string;
  readonly identity: Identity;
}

/**
 * One SSH request as the generic Operation: a single statement whose text is the command line (or subsystem,
 * forward destination, env pair) and whose only access is the verb on the connection.
 */
export function sshOperation(scope: SshOperationScope, verb: SshVerb, text: string, mode: string): Operation {
  const step: OperationStep = {
    text,
    action: verb,
    accesses: [{ action: verb, resource: { type: "Connection" } }],
    // A command line can do anything the remote account can: never treat it as read-only.
    facts: { readOnly: false, hasWhere: true, tableCount: 0, command: text },
  };
  return {
    id: randomUUID(),
    sessionId: scope.sessionId,
    protocol: "ssh",
    connection: scope.connection,
    identity: scope.identity,
    mode,
    steps: [step],
    receivedAt: Date.now(),
  };
}
