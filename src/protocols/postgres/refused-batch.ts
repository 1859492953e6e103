import { randomUUID } from "node:crypto";
import { LatchError } from "../../errors.js";
import type { Identity } from "../../identity/identity.js";
import type { Operation } from "../../operation/operation.js";
import type { FrontendMessage } from "./messages.js";
import type { ResultMasker } from "./result-masker.js";

/**
 * A batch refused before policy could judge it (unparseable, unknown portal, masking rule) is still recorded,
 * with its raw texts: fail closed, visibly.
 */
export function refusedOperation(
  messages: readonly FrontendMessage[],
  context: { sessionId: string; connection: string; identity: Identity; receivedAt: number },
): Operation {
  const texts = messages.flatMap((m) => (m.kind === "Query" || m.kind === "Parse" ? [m.sql] : []));
  return {
    id: randomUUID(),
    sessionId: context.sessionId,
    protocol: "postgres",
    connection: context.connection,
    identity: context.identity,
    mode: "refused",
    steps: texts.map((text) => ({
      text,
      action: "sql:unclassified",
      accesses: [],
      facts: { readOnly: false, hasWhere: true, tableCount: 0, command: "" },
      recorded: { tablesRead: [], tablesWritten: [] },
    })),
    receivedAt: context.receivedAt,
  };
}

/** Masking rules that refuse a statement outright (probing predicates, derived values, COPY of masked columns). */
export function maskingRefusal(
  masker: ResultMasker | undefined,
  messages: readonly FrontendMessage[],
): { ok: false; error: LatchError } | undefined {
  if (masker === undefined) return undefined;
  for (const message of messages) {
    if (message.kind !== "Query" && message.kind !== "Parse") continue;
    const check = masker.checkStatement(message.sql);
    if (!check.ok) return { ok: false, error: new LatchError("statement_denied", { reason: check.reason }) };
  }
  return undefined;
}
