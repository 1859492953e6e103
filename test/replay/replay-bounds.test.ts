import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCedarPolicyEngine } from "../../src/policy/create-cedar-engine.js";
import { parsePolicySources } from "../../src/policy/load-policies.js";
import {
  MAX_GROUPS,
  OTHER_PRINCIPALS,
  type ReplayReport,
  replayHistory,
} from "../../src/replay/replay-history.js";
import { openSqliteStores } from "../../src/store/open-stores.js";
import { openSqliteAuditReader } from "../../src/store/sqlite-audit-reader.js";
import type { AuditEventInput } from "../../src/store/store.js";

// Replay's report stays bounded whatever the history holds: a history of more distinct callers than the report
// keeps groups for, and of more distinct not-re-decidable reasons than it lists, in a real embedded store.
const PRINCIPALS = MAX_GROUPS + 150;
const VERSIONS = 130;
const CURRENT = `permit(principal, action == Action::"sql:update", resource in Connection::"app");`;
const CANDIDATE = `permit(principal, action == Action::"sql:select", resource in Connection::"app");`;

let dir: string;
let report: ReplayReport;

function update(index: number, policyInput: Record<string, unknown>): AuditEventInput {
  return {
    kind: "operation",
    sessionId: `s-${index}`,
    data: {
      operationId: `op-${index}`,
      mode: "simple",
      statements: [{ text: `UPDATE t SET a = ${index} WHERE id = 1`, verb: "sql:update" }],
      verdict: { decision: "allow", rules: ["p0"], reason: "allowed" },
      policyInput,
    },
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-replay-bounds-"));
  const stores = await openSqliteStores(dir);
  const at = Date.UTC(2026, 10, 1);
  const step = {
    action: "sql:update",
    accesses: [{ action: "sql:update", resource: { type: "Table", name: "public.t" } }],
    facts: { readOnly: false, hasWhere: true, tableCount: 1, command: "" },
  };
  const events: AuditEventInput[] = [];
  for (let index = 0; index < PRINCIPALS; index += 1) {
    const input = { v: 1, subject: `caller-${index}`, issuer: "https://issuer.test", groups: [] };
    events.push(
      update(index, {
        ...input,
        connection: "app",
        labels: {},
        clientAddress: "10.0.0.1",
        at,
        steps: [step],
      }),
    );
  }
  // Versions a later Latch wrote (this one writes 1 and 2): each its own reason.
  for (let index = 0; index < VERSIONS; index += 1) events.push(update(PRINCIPALS + index, { v: 3 + index }));
  await stores.audit.append(events);
  await stores.close();
  const reader = openSqliteAuditReader(path.join(dir, "latch.db"));
  const [current, candidate] = [CURRENT, CANDIDATE].map((text) =>
    createCedarPolicyEngine(parsePolicySources([{ file: "p.cedar", text }])),
  );
  report = await replayHistory({ reader, current: current!, candidate: candidate! });
  reader.close();
}, 120_000);

afterAll(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("replay's report is bounded", () => {
  it("keeps MAX_GROUPS (principal, action) groups per change and counts the rest under one", () => {
    const denied = report.changes.newly_denied;
    expect(denied.count).toBe(PRINCIPALS);
    expect(denied.groups).toHaveLength(MAX_GROUPS + 1);
    expect(denied.groups.reduce((sum, group) => sum + group.count, 0)).toBe(PRINCIPALS);
    const other = denied.groups.find((group) => group.principal === OTHER_PRINCIPALS)!;
    expect(other).toMatchObject({ action: "*", count: PRINCIPALS - MAX_GROUPS });
    expect(other.examples).toHaveLength(3);
    // Every operation is still counted where it belongs: each regression is there.
    expect(report.regressions.count).toBe(PRINCIPALS);
  });

  it("lists 100 distinct not-re-decidable reasons and counts the rest together", () => {
    const { reasons, count } = report.notRedecidable;
    expect(count).toBe(VERSIONS);
    expect(Object.keys(reasons)).toHaveLength(101);
    expect(reasons["(other reasons)"]).toBe(VERSIONS - 100);
    expect(reasons["policyInput version 3 is newer than this Latch understands"]).toBe(1);
  });
});
