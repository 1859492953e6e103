import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SessionFactsLedger } from "../../src/audit/session-facts.js";
import type { Identity } from "../../src/identity/identity.js";
import type { OperationStep } from "../../src/operation/operation.js";
import { type RecordedPolicyInput, recordPolicyInput } from "../../src/policy/recorded-input.js";
import { recordedHistory } from "../../src/replay/recorded-operations.js";
import { openSqliteStores } from "../../src/store/open-stores.js";
import type { AuditReader } from "../../src/store/store.js";
import type { Stores } from "../../src/store/stores.js";

// policyInput version 2 leaves the session's facts (caller, connection, client address) to its session_start;
// replay reads them back, from the events it streams or by looking the session up, and old full inputs still
// replay as they are. Real SQLite store, events appended through its audit writer.
const identity: Identity = {
  subject: "alice",
  issuer: "https://issuer.test",
  groups: ["agents"],
  expiresAt: 0,
};
const context = { clientAddress: "10.0.0.7:5000", connectionLabels: { env: "prod" } };
const start = {
  protocol: "postgres",
  connection: "app",
  subject: "alice",
  groups: ["agents"],
  issuer: "https://issuer.test",
  clientAddress: "10.0.0.7:5000",
  clientUser: "app",
  tls: true,
};
const step: OperationStep = {
  text: "SELECT 1",
  action: "sql:select",
  accesses: [{ action: "sql:select", resource: { type: "Table", name: "public.orders" } }],
  facts: { readOnly: true, hasWhere: false, tableCount: 1, command: "" },
};

let dir: string;
let stores: Stores;
const ledger = new SessionFactsLedger();
ledger.note({ kind: "session_start", sessionId: "s-1", data: start });
ledger.note({ kind: "session_start", sessionId: "s-gone", data: start });
ledger.note({ kind: "session_end", sessionId: "s-gone", data: { reason: "closed" } });

const operation = (id: string, sessionId: string, policyInput: unknown) => ({
  kind: "operation" as const,
  sessionId,
  data: {
    operationId: id,
    mode: "simple",
    statements: [{ text: "SELECT 1", verb: "sql:select", tablesRead: ["public.orders"], tablesWritten: [] }],
    verdict: { decision: "allow", rules: ["r"], reason: "allowed" },
    policyInput,
  },
});

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-session-facts-"));
  stores = await openSqliteStores(dir);
  const slim = recordPolicyInput(identity, "app", context, 1000, [step], ledger.get("s-1"));
  const elsewhere = recordPolicyInput(identity, "reports", context, 2000, [step], ledger.get("s-1"));
  const full = recordPolicyInput(identity, "app", context, 3000, [step], ledger.get("s-gone"));
  await stores.audit.append([
    { kind: "session_start", sessionId: "s-1", data: start },
    operation("slim", "s-1", slim),
    operation("elsewhere", "s-1", elsewhere),
    operation("full", "s-2", full),
    // A version 2 input whose session never recorded a session_start.
    operation("orphan", "s-3", { ...slim }),
    { kind: "session_end", sessionId: "s-1", data: { reason: "closed" } },
  ]);
});

afterAll(async () => {
  await stores?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

async function inputs(reader: AuditReader): Promise<Record<string, RecordedPolicyInput | string>> {
  const found: Record<string, RecordedPolicyInput | string> = {};
  for await (const item of recordedHistory(reader)) {
    if (item.kind === "operation") found[item.operation.operationId] = item.operation.input;
  }
  return found;
}

describe("policyInput version 2", () => {
  it("records only what varies per statement, and each session fact that differs from session_start", () => {
    expect(recordPolicyInput(identity, "app", context, 1000, [step], ledger.get("s-1"))).toEqual({
      at: 1000,
      labels: { env: "prod" },
      steps: [{ action: "sql:select", accesses: step.accesses, facts: step.facts }],
      v: 2,
    });
    const other = recordPolicyInput({ ...identity, groups: ["ops"] }, "reports", context, 1, [step], start);
    expect(Object.keys(other)).toEqual(["at", "connection", "groups", "labels", "steps", "v"]);
    // A session the ledger no longer knows (ended, or forgotten past its bound): the full version 1 input.
    expect(ledger.get("s-gone")).toBeUndefined();
    expect(recordPolicyInput(identity, "app", context, 1, [step], undefined)).toMatchObject({
      v: 1,
      subject: "alice",
      connection: "app",
      clientAddress: "10.0.0.7:5000",
    });
  });

  const expected = (connection: string, at: number) => ({
    subject: "alice",
    issuer: "https://issuer.test",
    groups: ["agents"],
    connection,
    labels: { env: "prod" },
    clientAddress: "10.0.0.7:5000",
    at,
  });

  it("replays with the facts of the session_start read on the way, old full inputs as they are", async () => {
    const found = await inputs(stores.auditReader);
    expect(found.slim).toMatchObject(expected("app", 1000));
    expect(found.elsewhere).toMatchObject(expected("reports", 2000));
    expect(found.full).toMatchObject({ ...expected("app", 3000), v: 1 });
    expect(found.orphan).toBe("its session's facts (session_start) were not found");
  });

  it("looks a session up by id when its session_start lies before what is read", async () => {
    const reader = stores.auditReader;
    const lookups: string[] = [];
    // A page read that never shows session starts, as a window that begins after them; the lookup by id does.
    const windowed: AuditReader = {
      ...reader,
      listSessions: (filter) => reader.listSessions(filter),
      getSession: (id) => reader.getSession(id),
      verifyChain: () => reader.verifyChain(),
      events: async (filter) => {
        if (filter?.sessionId !== undefined) {
          lookups.push(filter.sessionId);
          return reader.events(filter);
        }
        return (await reader.events(filter)).filter((event) => event.kind !== "session_start");
      },
    };
    const found = await inputs(windowed);
    expect(found.slim).toMatchObject(expected("app", 1000));
    expect(found.elsewhere).toMatchObject(expected("reports", 2000));
    expect(found.orphan).toBe("its session's facts (session_start) were not found");
    // One lookup per session, found or not; none for the full input.
    expect(lookups).toEqual(["s-1", "s-3"]);
  });
});
