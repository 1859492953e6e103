import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ApprovalService, type ApprovalServiceOptions } from "../../src/approvals/approval-service.js";
import type { ApprovalStore } from "../../src/approvals/approval-store.js";
import type { ApprovalAuditEvent } from "../../src/approvals/approval-types.js";
import type { Identity } from "../../src/identity/identity.js";
import type { Operation, OperationStep, Verdict } from "../../src/operation/operation.js";
import { createSqliteApprovalStore, type SqliteApprovalStore } from "../../src/store/sqlite-approvals.js";
import { createSqliteStore, type SqliteStore } from "../../src/store/sqlite-store.js";

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
  readonly auditStore: SqliteStore = createSqliteStore(this.file);
  readonly events: ApprovalAuditEvent[] = [];
  /** While set, the audit callback rejects (the record is unavailable) and records nothing. */
  auditFailure: Error | undefined;
  private readonly opened: { close(): unknown }[] = [this.auditStore];

  openStore(): SqliteApprovalStore {
    const store = createSqliteApprovalStore(this.file);
    this.opened.push(store);
    return store;
  }

  /** A service whose audit events go to the real audit chain, through a Promise as the gateway's writer does. */
  async service(
    overrides: Partial<ApprovalServiceOptions> = {},
    store: ApprovalStore = this.openStore(),
  ): Promise<ApprovalService> {
    const service = await ApprovalService.open({
      store,
      audit: async (event) => {
        await Promise.resolve();
        if (this.auditFailure !== undefined) throw this.auditFailure;
        this.auditStore.append({ kind: event.kind, sessionId: event.sessionId, data: event.data });
        this.events.push(event);
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

  async close(): Promise<void> {
    for (const handle of this.opened.splice(0).reverse()) await handle.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Resolves with the id of the next request the service creates (subscribe before starting the request). */
export function nextRequest(service: ApprovalService): Promise<string> {
  return new Promise((resolve) => {
    const stop = service.subscribe((update) => {
      if (update.type !== "request" || update.request.state !== "pending") return;
      stop();
      resolve(update.request.id);
    });
  });
}

/** The one pending request of the service; throws if there is not exactly one. */
export async function onlyPending(service: ApprovalService): Promise<string> {
  const pending = await service.listRequests({ state: "pending" });
  if (pending.length !== 1) throw new Error(`expected one pending request, found ${pending.length}`);
  return pending[0]!.id;
}
