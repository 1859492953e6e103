import type { Identity } from "../identity/identity.js";
import type { Access, OperationStep, StepFacts } from "../operation/operation.js";
import type { AuthorizationRequest } from "./policy-engine.js";

/**
 * What the policy engine was asked about one operation, as the `operation` event records it (`policyInput`),
 * so `latch policy replay` can ask a candidate policy set the same question later: the caller, the connection
 * and its labels, the client address, the time, and every step's action, accesses and facts. It holds
 * nothing protocol-specific and nothing the record does not already hold elsewhere (no parameters, no
 * token). Events written before this field existed have none: replay counts them as not re-decidable.
 */

export const POLICY_INPUT_VERSION = 1;

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
): RecordedPolicyInput {
  return {
    at: receivedAt,
    clientAddress: context.clientAddress,
    connection,
    groups: identity.groups,
    issuer: identity.issuer,
    labels: context.connectionLabels,
    steps: steps.map(recordStep),
    subject: identity.subject,
    v: POLICY_INPUT_VERSION,
  };
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
