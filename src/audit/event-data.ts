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

const VERDICT_MEMBER = ',"verdict":';

/**
 * An event body as the sessions index reads it, from its canonical JSON (audit/canonical-json.ts). Only
 * session starts, ends and operations change the index (session-index.ts); of an operation it needs only the
 * verdict, which canonical key order puts last (`…,"verdict":{…}}`), so only that member is parsed, not the
 * statements, policy input and folded result before it. The shortcut is taken only when it is exact: the text
 * `,"verdict":` outside a string starts a member (a quote inside a string is escaped), and a member whose
 * value ends one character before the body's end is a member of the top-level object (any deeper one would
 * be followed by at least two closing braces). Anything else (another member after the verdict, a body that
 * is not canonical) is parsed whole, as before.
 */
export function indexedBody(kind: string, dataJson: string): Readonly<Record<string, unknown>> | undefined {
  if (kind !== "operation") {
    return kind === "session_start" || kind === "session_end"
      ? (JSON.parse(dataJson) as Record<string, unknown>)
      : undefined;
  }
  const at = dataJson.lastIndexOf(VERDICT_MEMBER);
  if (at !== -1 && dataJson.charCodeAt(at + VERDICT_MEMBER.length) === 0x7b && dataJson.endsWith("}}")) {
    try {
      const verdict: unknown = JSON.parse(dataJson.slice(at + VERDICT_MEMBER.length, -1));
      if (typeof verdict === "object" && verdict !== null) return { verdict };
    } catch {
      // Not the last member after all: the whole body below.
    }
  }
  return JSON.parse(dataJson) as Record<string, unknown>;
}
