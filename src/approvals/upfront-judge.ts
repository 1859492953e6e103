import type { Identity } from "../identity/identity.js";
import { type Access, type OperationStep, tableCountOf, type Verdict } from "../operation/operation.js";
import type { PolicyEngine } from "../policy/policy-engine.js";

/** Asks policy about accesses an agent names up front; undefined when the connection is unknown. */
export type UpfrontJudge = (
  identity: Identity,
  connection: string,
  accesses: readonly Access[],
  clientAddress: string,
) => Verdict | undefined;

/**
 * Judges an upfront request with the same policy as live statements, through a statement that makes exactly
 * the named accesses. Statement facts cannot be known before the statement exists, so it claims the
 * harmless ones (has WHERE, no functions); the live statement is judged again when it runs, and a grant only
 * ever releases an operation whose verdict still asks for the same approval group.
 */
export function createUpfrontJudge(
  policy: () => PolicyEngine,
  connectionLabels: (connection: string) => Readonly<Record<string, string>> | undefined,
): UpfrontJudge {
  return (identity, connection, accesses, clientAddress) => {
    const labels = connectionLabels(connection);
    if (labels === undefined) return undefined;
    return policy().authorize({
      identity,
      connection,
      connectionLabels: labels,
      steps: [upfrontStep(accesses)],
      clientAddress,
      now: new Date(),
    });
  };
}

export function upfrontStep(accesses: readonly Access[]): OperationStep {
  return {
    text: `-- asked up front: ${accesses.map((access) => access.action).join(", ")}`,
    action: accesses[0]?.action ?? "sql:select",
    accesses,
    facts: {
      readOnly: accesses.every((access) => access.action === "sql:select"),
      hasWhere: true,
      tableCount: tableCountOf(accesses),
      command: "",
    },
  };
}
