import { type SessionFacts, sameGroups } from "../audit/session-facts.js";
import type { Identity } from "../identity/identity.js";
import type { Access, OperationStep, StepFacts } from "../operation/operation.js";
import type { AuthorizationRequest } from "./policy-engine.js";

/**
 * What the policy engine was asked about one operation, as the `operation` event records it (`policyInput`),
 * so `latch policy replay` can ask a candidate policy set the same question later: the caller, the connection
 * and its labels, the client address, the time, and every step's action, accesses and facts. It holds
 * nothing protocol-specific and nothing the record does not already hold elsewhere (no parameters, no
 * token). Events written before this field existed have none: replay counts them as not re-decidable.
 *
 * Version 2 leaves out what the operation's session already recorded in its `session_start` (subject, issuer,
 * groups, connection, client address: audit/session-facts.ts) when the question shares it; each of those
 * fields is written only when it differs. Replay fills the missing ones from the session's facts
 * (`resolvePolicyInput`); without them the operation is not re-decidable. Version 1 events hold every field.
 */

export const POLICY_INPUT_VERSION = 2;
/** The full form keeps version 1, which every Latch that reads policy inputs understands. */
const FULL_INPUT_VERSION = 1;

const SESSION_FACTS_NOT_FOUND = "its session's facts (session_start) were not found";

/** What a version 2 input may leave out: the session's facts. */
const SESSION_FIELDS = ["subject", "issuer", "groups", "connection", "clientAddress"] as const;

export interface RecordedPolicyInput {
  readonly v: number;
  readonly subject: string;
  readonly issuer: string;
  readonly groups: readonly string[];
  readonly connection: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly clientAddress: string;
  /** Epoch ms: the `now` the engine decided with. */
  readonly at: number;
  readonly steps: readonly RecordedStep[];
}

export interface RecordedStep {
  readonly action: string;
  readonly accesses: readonly Access[];
  readonly facts: StepFacts;
}

/**
 * Built on every operation. Every object is written with its keys in sorted order, so the audit log's
 * canonical encoding takes its native path (audit/canonical-json.ts); the JSON is what it always was.
 */
export function recordPolicyInput(
  identity: Identity,
  connection: string,
  context: { readonly clientAddress: string; readonly connectionLabels: Readonly<Record<string, string>> },
  receivedAt: number,
  steps: readonly OperationStep[],
  session?: SessionFacts,
): RecordedPolicyInput | SlimPolicyInput {
  if (session !== undefined)
    return slimPolicyInput(identity, connection, context, receivedAt, steps, session);
  return {
    at: receivedAt,
    clientAddress: context.clientAddress,
    connection,
    groups: identity.groups,
    issuer: identity.issuer,
    labels: context.connectionLabels,
    steps: steps.map(recordStep),
    subject: identity.subject,
    v: FULL_INPUT_VERSION,
  };
}

/** Version 2 as written: the session's facts only where this question differs from them. */
export interface SlimPolicyInput {
  readonly v: number;
  readonly subject?: string;
  readonly issuer?: string;
  readonly groups?: readonly string[];
  readonly connection?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly clientAddress?: string;
  readonly at: number;
  readonly steps: readonly RecordedStep[];
}

/** Keys inserted in sorted order, as in recordPolicyInput; the common case is `{at, labels, steps, v}`. */
function slimPolicyInput(
  identity: Identity,
  connection: string,
  context: { readonly clientAddress: string; readonly connectionLabels: Readonly<Record<string, string>> },
  receivedAt: number,
  steps: readonly OperationStep[],
  session: SessionFacts,
): SlimPolicyInput {
  const input: { -readonly [K in keyof SlimPolicyInput]?: SlimPolicyInput[K] } = { at: receivedAt };
  if (context.clientAddress !== session.clientAddress) input.clientAddress = context.clientAddress;
  if (connection !== session.connection) input.connection = connection;
  if (!sameGroups(identity.groups, session.groups)) input.groups = identity.groups;
  if (identity.issuer !== session.issuer) input.issuer = identity.issuer;
  input.labels = context.connectionLabels;
  input.steps = steps.map(recordStep);
  if (identity.subject !== session.subject) input.subject = identity.subject;
  input.v = POLICY_INPUT_VERSION;
  return input as SlimPolicyInput;
}

/** True when a recorded input (either version) leaves out a field only its session's facts can supply. */
export function needsSessionFacts(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const input = value as Record<string, unknown>;
  return input.v === 2 && SESSION_FIELDS.some((key) => input[key] === undefined);
}

/**
 * `readPolicyInput` of a recording completed with its session's facts (version 2 leaves them out); `session`
 * undefined when its session_start was not found, which makes such an input not re-decidable.
 */
export function resolvePolicyInput(
  value: unknown,
  session: SessionFacts | undefined,
): RecordedPolicyInput | string {
  if (!needsSessionFacts(value)) return readPolicyInput(value);
  if (session === undefined) return SESSION_FACTS_NOT_FOUND;
  const input = value as Record<string, unknown>;
  const completed: Record<string, unknown> = { ...input };
  for (const key of SESSION_FIELDS) if (completed[key] === undefined) completed[key] = session[key];
  return readPolicyInput(completed);
}

function recordStep(step: OperationStep): RecordedStep {
  const facts = step.facts;
  return {
    accesses: step.accesses.map(recordAccess),
    action: step.action,
    facts:
      facts.http === undefined
        ? {
            command: facts.command,
            hasWhere: facts.hasWhere,
            readOnly: facts.readOnly,
            tableCount: facts.tableCount,
          }
        : {
            command: facts.command,
            hasWhere: facts.hasWhere,
            http: facts.http,
            readOnly: facts.readOnly,
            tableCount: facts.tableCount,
          },
  };
}

function recordAccess(access: Access): Access {
  const resource = access.resource;
  return {
    action: access.action,
    resource:
      resource.type === "Connection" ? { type: "Connection" } : { name: resource.name, type: resource.type },
  };
}

/**
 * Reads `policyInput` back, checking every field's type: a recording is data from disk, and a malformed one
 * must be reported as not re-decidable, never half-used. Returns a reason string when it cannot be used.
 */
export function readPolicyInput(value: unknown): RecordedPolicyInput | string {
  if (value === undefined) return "recorded before operations carried their policy input";
  if (typeof value !== "object" || value === null) return "policyInput is not an object";
  const input = value as Record<string, unknown>;
  if (typeof input.v !== "number" || input.v > POLICY_INPUT_VERSION) {
    return `policyInput version ${String(input.v)} is newer than this Latch understands`;
  }
  if (needsSessionFacts(input)) return SESSION_FACTS_NOT_FOUND;
  const strings = ["subject", "issuer", "connection", "clientAddress"] as const;
  for (const key of strings) if (typeof input[key] !== "string") return `policyInput.${key} is not a string`;
  if (!isStringArray(input.groups)) return "policyInput.groups is not a list of strings";
  if (!isStringRecord(input.labels)) return "policyInput.labels is not a map of strings";
  if (typeof input.at !== "number" || !Number.isFinite(input.at)) return "policyInput.at is not a time";
  if (!Array.isArray(input.steps) || input.steps.length === 0) return "policyInput.steps is empty";
  for (const step of input.steps) {
    const problem = stepProblem(step);
    if (problem !== undefined) return problem;
  }
  return input as unknown as RecordedPolicyInput;
}

/** The request the engine sees for a recorded input; `identity` is passed in so callers can share one per caller. */
export function requestOfInput(input: RecordedPolicyInput, identity: Identity): AuthorizationRequest {
  return {
    identity,
    connection: input.connection,
    connectionLabels: input.labels,
    steps: input.steps.map((step) => ({ text: "", ...step })),
    clientAddress: input.clientAddress,
    now: new Date(input.at),
  };
}

function stepProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return "a policyInput step is not an object";
  const step = value as Record<string, unknown>;
  if (typeof step.action !== "string") return "a policyInput step has no action";
  if (!Array.isArray(step.accesses)) return "a policyInput step has no accesses";
  for (const access of step.accesses as unknown[]) {
    const a = access as { action?: unknown; resource?: { type?: unknown; name?: unknown } } | null;
    if (typeof a?.action !== "string" || typeof a.resource !== "object" || a.resource === null) {
      return "a policyInput access is malformed";
    }
    const { type, name } = a.resource;
    const named = type === "Table" || type === "Function" || type === "Tool";
    if (type !== "Connection" && !(named && typeof name === "string")) {
      return "a policyInput access names an unknown resource";
    }
  }
  const facts = step.facts as Record<string, unknown> | null | undefined;
  if (
    typeof facts !== "object" ||
    facts === null ||
    typeof facts.readOnly !== "boolean" ||
    typeof facts.hasWhere !== "boolean" ||
    typeof facts.tableCount !== "number" ||
    typeof facts.command !== "string"
  ) {
    return "a policyInput step's facts are malformed";
  }
  return undefined;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((item) => typeof item === "string")
  );
}
