import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ApprovalService, type ApprovalServiceOptions } from "../../src/approvals/approval-service.js";
import type { ApprovalStore } from "../../src/approvals/approval-store.js";
import type { ApprovalAuditEvent } from "../../src/approvals/approval-types.js";
import type { Identity } from "../../src/identity/identity.js";
import type { Operation, OperationStep, Verdict } from "../../src/operation/operation.js";
import { createSqliteApprovalStore } from "../../src/store/sqlite-approvals.js";
import { createSqliteStore } from "../../src/store/sqlite-store.js";
import type { AuditEventKind, Store } from "../../src/store/store.js";

export function identity(subject: string, groups: string[] = []): Identity {
  return { subject, issuer: "latch-dev", groups, expiresAt: Date.now() + 3_600_000 };
}

export const agent = identity("agent-1", ["agents"]);
export const alice = identity("alice", ["dba"]);
export const bob = identity("bob", ["dba"]);
export const mallory = identity("mallory", ["analysts"]);

/** An UPDATE on public.orders as the classifier reports it. */
export function updateStatement(text = "UPDATE orders SET total = 10 WHERE id = 1"): OperationStep {
  return {
    text,
    action: "sql:update",
    accesses: [{ action: "sql:update", resource: { type: "Table", name: "public.orders" } }],
    facts: { readOnly: false, hasWhere: true, tableCount: 1, command: "" },
    recorded: { tablesRead: [], tablesWritten: ["public.orders"] },
  };
}

let operations = 0;
export function operation(
  steps: OperationStep[] = [updateStatement()],
  who: Identity = agent,
  parameters?: (string | null)[][],
): Operation {
  operations += 1;
  return {
    id: `op-${operations}`,
    sessionId: "session-1",
    protocol: "postgres",
    connection: "prod",
    identity: who,
    mode: parameters === undefined ? "simple" : "extended",
    steps,
    ...(parameters === undefined ? {} : { parameters }),
    receivedAt: Date.now(),
  };
}

export function approvalVerdict(group = "dba", quorum = 1): Verdict {
  return {
    decision: "approval",
    rules: ["policies/prod.cedar#0"],
    reason: `update needs approval by ${group}`,
    approval: { group, quorum },
  };
}

/** A real SQLite file holding both the audit log and the approval tables, as the gateway runs them. */
export class ApprovalHarness {
  readonly dir = mkdtempSync(path.join(tmpdir(), "latch-approvals-"));
  readonly file = path.join(this.dir, "latch.db");
  readonly auditStore: Store = createSqliteStore(this.file);
  readonly events: ApprovalAuditEvent[] = [];
  private readonly opened: { close(): void }[] = [this.auditStore];

  openStore(): ApprovalStore {
    const store = createSqliteApprovalStore(this.file);
    this.opened.push(store);
    return store;
  }

  /** A service whose audit events go to the real audit chain (the lead adds the approval kinds to AUDIT_EVENT_KINDS). */
  service(
    overrides: Partial<ApprovalServiceOptions> = {},
    store: ApprovalStore = this.openStore(),
  ): ApprovalService {
    const service = new ApprovalService({
      store,
      audit: (event) => {
        this.events.push(event);
        this.auditStore.append({
          kind: event.kind as unknown as AuditEventKind,
          sessionId: event.sessionId,
          data: event.data,
        });
      },
      maxGrantMs: 3_600_000,
      requestTimeoutMs: 60_000,
      sweepIntervalMs: 50,
      ...overrides,
    });
    this.opened.push(service);
    return service;
  }

  kinds(): string[] {
    return this.events.map((event) => event.kind);
  }

  close(): void {
    for (const handle of this.opened.splice(0).reverse()) handle.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resolves once the service has a pending request (hold mode creates it synchronously inside the call). */
export function onlyPending(service: ApprovalService): string {
  const pending = service.listRequests({ state: "pending" });
  if (pending.length !== 1) throw new Error(`expected one pending request, found ${pending.length}`);
  return pending[0]!.id;
}
