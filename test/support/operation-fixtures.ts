import { pino } from "pino";
import type { Identity } from "../../src/identity/identity.js";
import type { Operation, OperationStep, Verdict } from "../../src/operation/operation.js";
import type { AuthorizationRequest, PolicyEngine } from "../../src/policy/policy-engine.js";

/** Plain-object fixtures for the pipeline and session layers: no parser, no Cedar, no store. */

export const silentLog = pino({ level: "silent" });

export function identity(subject = "agent-7", groups: string[] = ["agents"]): Identity {
  return {
    subject,
    issuer: "https://issuer.test",
    groups,
    expiresAt: Date.UTC(2026, 0, 6, 11, 30),
  };
}

export function step(text: string, action = "sql:select", table = "public.items"): OperationStep {
  return {
    text,
    action,
    accesses: [{ action, resource: { type: "Table", name: table } }],
    facts: { readOnly: action === "sql:select", hasWhere: true, tableCount: 1, command: "" },
    recorded: { tablesRead: action === "sql:select" ? [table] : [], tablesWritten: [] },
  };
}

let operations = 0;

export function operation(overrides: Partial<Operation> = {}): Operation {
  operations += 1;
  return {
    id: `op-${operations}`,
    sessionId: "session-1",
    protocol: "postgres",
    connection: "analytics",
    identity: identity(),
    mode: "simple",
    steps: [step("SELECT * FROM items")],
    receivedAt: Date.UTC(2026, 0, 6, 10, 30),
    ...overrides,
  };
}

export const allow: Verdict = {
  decision: "allow",
  rules: ["policies/agents.cedar#0"],
  reason: "agents may read",
};
export const deny: Verdict = {
  decision: "deny",
  rules: ["policies/agents.cedar#1"],
  reason: "writes are forbidden",
};
export const needsApproval: Verdict = {
  decision: "approval",
  rules: ["policies/prod.cedar#0"],
  reason: "writes to prod need a DBA",
  approval: { group: "dba", quorum: 1 },
};

/** A PolicyEngine that answers what the test chose (a verdict, or a function of the request), and keeps the requests. */
export class FakePolicy implements PolicyEngine {
  readonly requests: AuthorizationRequest[] = [];
  readonly policyCount = 1;

  constructor(public answer: Verdict | ((request: AuthorizationRequest) => Verdict)) {}

  authorize(request: AuthorizationRequest): Verdict {
    this.requests.push(request);
    return typeof this.answer === "function" ? this.answer(request) : this.answer;
  }
}
