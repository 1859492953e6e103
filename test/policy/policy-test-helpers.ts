import type { Identity } from "../../src/identity/identity.js";
import type { Access, OperationStep } from "../../src/operation/operation.js";
import {
  type CedarPolicyEngineOptions,
  createCedarPolicyEngine,
} from "../../src/policy/create-cedar-engine.js";
import { parsePolicySources } from "../../src/policy/load-policies.js";
import type { AuthorizationRequest, PolicyEngine } from "../../src/policy/policy-engine.js";

/** Hand-built steps, shaped as the PostgreSQL classifier reports them. */
export function statement(
  accesses: readonly Access[],
  facts: {
    readonly verb?: string;
    readonly text?: string;
    readonly readOnly?: boolean;
    readonly hasWhere?: boolean;
    readonly functions?: readonly string[];
    readonly command?: string;
  } = {},
): OperationStep {
  const tables = accesses.flatMap((access) =>
    access.resource.type === "Table" ? [access.resource.name] : [],
  );
  return {
    text: facts.text ?? "-- hand-built",
    action: facts.verb ?? accesses[0]?.action ?? "sql:session",
    accesses,
    facts: {
      readOnly: facts.readOnly ?? true,
      hasWhere: facts.hasWhere ?? true,
      tableCount: new Set(tables).size,
      command: facts.command ?? "",
    },
  };
}

export function onTable(action: string, name: string): Access {
  return { action, resource: { type: "Table", name } };
}

export function onFunction(action: string, name: string): Access {
  return { action, resource: { type: "Function", name } };
}

export function onConnection(action: string): Access {
  return { action, resource: { type: "Connection" } };
}

export function identity(subject: string, groups: readonly string[] = []): Identity {
  return { subject, issuer: "https://issuer.test", groups, expiresAt: Date.now() + 60_000 };
}

/** A Tuesday, 10:30 UTC. */
export const TUESDAY_MORNING = new Date("2025-01-07T10:30:00Z");

export function request(
  who: Identity,
  connection: string,
  steps: readonly OperationStep[],
  extra: Partial<AuthorizationRequest> = {},
): AuthorizationRequest {
  return {
    identity: who,
    connection,
    connectionLabels: {},
    steps,
    clientAddress: "127.0.0.1",
    now: TUESDAY_MORNING,
    ...extra,
  };
}

export function engineFor(policyText: string, options: CedarPolicyEngineOptions = {}): PolicyEngine {
  return createCedarPolicyEngine(parsePolicySources([{ file: "test.cedar", text: policyText }]), options);
}
