/**
 * The bodies (`data`) of the audit events the store indexes. Writers (pipeline, protocol sessions) build these;
 * the store reads them to keep the sessions index, and search reads them back. Field names are part of the
 * recording format: add fields freely, never rename one.
 */

/** `session_start`: who connected, to what, from where. Never the token itself. */
export interface SessionStartData {
  readonly protocol: string;
  readonly connection: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly issuer: string;
  readonly clientAddress: string;
}

/** `session_end`. */
export interface SessionEndData {
  readonly reason: string;
}

export interface AuditedStatement {
  readonly text: string;
  readonly verb: string;
  readonly tables: readonly string[];
}

export interface AuditedVerdict {
  readonly decision: "allow" | "deny" | "approval";
  /** Ids of the policies that decided. */
  readonly rules: readonly string[];
  readonly reason: string;
}

/** `operation`: written before forwarding. Other fields (parameters digest, facts, ...) may follow. */
export interface OperationData {
  readonly operationId: string;
  readonly mode: string;
  readonly statements: readonly AuditedStatement[];
  readonly verdict: AuditedVerdict;
  readonly [more: string]: unknown;
}

/** The parts of a `session_start` body the sessions index needs; throws when they are absent or mistyped. */
export function readSessionStart(data: Readonly<Record<string, unknown>>): SessionStartData {
  const text = (key: keyof SessionStartData): string => {
    const value = data[key];
    if (typeof value !== "string") throw new TypeError(`session_start data.${key} must be a string`);
    return value;
  };
  const groups = data.groups ?? [];
  if (!Array.isArray(groups) || !groups.every((group) => typeof group === "string")) {
    throw new TypeError("session_start data.groups must be an array of strings");
  }
  return {
    protocol: text("protocol"),
    connection: text("connection"),
    subject: text("subject"),
    groups,
    issuer: typeof data.issuer === "string" ? data.issuer : "",
    clientAddress: text("clientAddress"),
  };
}

/** True when an `operation` body records a denial (counted in the sessions index). */
export function isDeniedOperation(data: Readonly<Record<string, unknown>>): boolean {
  const verdict = data.verdict as { decision?: unknown } | null | undefined;
  return typeof verdict === "object" && verdict !== null && verdict.decision === "deny";
}
