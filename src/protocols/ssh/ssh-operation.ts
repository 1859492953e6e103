import { randomUUID } from "node:crypto";
import type { LatchError } from "../../errors.js";
import type { Identity } from "../../identity/identity.js";
import type { Operation, Verdict } from "../../pipeline/operation.js";
import type {
  AdmissionCallback,
  OperationContext,
  OperationResult,
} from "../../pipeline/operation-pipeline.js";
import type { ClassifiedStatement } from "../../sql/classification.js";
import type { AuditEventInput } from "../../store/store.js";

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

/**
 * What the SSH session needs from the pipeline. OperationPipeline satisfies it as is; `onHeld` is the hook
 * for approvals: a pipeline that holds an operation calls it (once, before `admitted`) so the client is told
 * it is waiting, and calls `admitted` whenever the decision arrives, possibly minutes later.
 */
export interface SshAdmitter {
  admit(
    operation: Operation,
    context: OperationContext,
    admitted: AdmissionCallback,
    onHeld?: (verdict: Verdict) => void,
  ): void;
  recordRefusal(operation: Operation, error: LatchError): void;
  complete(operation: Operation, result: OperationResult): void;
  recordSessionEnd(sessionId: string, reason: string): void;
  /** Durable before it resolves (session start, recording chunks); rejects when the store cannot write. */
  recordDurably(event: AuditEventInput): Promise<void>;
  /** Fire and forget; failures are logged and counted by the pipeline. */
  record(event: AuditEventInput): void;
}

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
  const statement: ClassifiedStatement = {
    text,
    nodeType: "SshRequest",
    verb,
    accesses: [{ action: verb, resource: { type: "Connection" } }],
    tablesRead: [],
    tablesWritten: [],
    functions: [],
    // A command line can do anything the remote account can: never treat it as read-only.
    readOnly: false,
    hasWhere: true,
  };
  return {
    id: randomUUID(),
    sessionId: scope.sessionId,
    protocol: "ssh",
    connection: scope.connection,
    identity: scope.identity,
    mode,
    statements: [statement],
    receivedAt: Date.now(),
  };
}
