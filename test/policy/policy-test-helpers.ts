import type { Identity } from "../../src/identity/identity.js";
import { createCedarPolicyEngine } from "../../src/policy/create-cedar-engine.js";
import { parsePolicySources } from "../../src/policy/load-policies.js";
import type { AuthorizationRequest, PolicyEngine } from "../../src/policy/policy-engine.js";
import type { Access, ClassifiedStatement } from "../../src/sql/classification.js";

/** Hand-built classifications, shaped as the PostgreSQL classifier reports them. */
export function statement(
  accesses: readonly Access[],
  facts: Partial<Omit<ClassifiedStatement, "accesses">> = {},
): ClassifiedStatement {
  const tables = accesses.flatMap((access) =>
    access.resource.type === "Table" ? [access.resource.name] : [],
  );
  return {
    text: "-- hand-built",
    nodeType: "HandBuilt",
    verb: accesses[0]?.action ?? "sql:session",
    accesses,
    tablesRead: tables,
    tablesWritten: [],
    functions: [],
    readOnly: true,
    hasWhere: true,
    ...facts,
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
  statements: readonly ClassifiedStatement[],
  extra: Partial<AuthorizationRequest> = {},
): AuthorizationRequest {
  return {
    identity: who,
    connection,
    connectionLabels: {},
    statements,
    clientAddress: "127.0.0.1",
    now: TUESDAY_MORNING,
    ...extra,
  };
}

export function engineFor(policyText: string, options: { cacheSize?: number } = {}): PolicyEngine {
  return createCedarPolicyEngine(parsePolicySources([{ file: "test.cedar", text: policyText }]), options);
}
