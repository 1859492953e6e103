import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/observability/metrics.js";
import type { StatementPreview } from "../../src/operation/statement-preview.js";
import { AuditBatcher } from "../../src/pipeline/audit-batcher.js";
import { OperationPipeline } from "../../src/pipeline/operation-pipeline.js";
import { engineFor } from "../policy/policy-test-helpers.js";
import { FakeApprovalGate } from "../support/fake-approval-gate.js";
import { ManualTimers } from "../support/manual-timers.js";
import { MemoryAuditLog } from "../support/memory-audit-log.js";
import { operation, silentLog, step } from "../support/operation-fixtures.js";

/**
 * Stage "preview" with the real Cedar engine: when a preview runs, that the final decision uses it, that a
 * forbidden statement is never previewed, and the row ceiling an admission carries.
 */

const POLICY = `
@id("small")
permit (principal in Group::"agents", action == Action::"sql:update", resource in Connection::"analytics")
when { context has preview && context.preview.rows <= 10 };
@id("needs-dba")
@approval("dba")
@preview("true")
permit (principal in Group::"agents", action in Action::"sql:write", resource in Connection::"analytics");
@id("sealed")
forbid (principal, action, resource == Table::"analytics/public.sealed");
`;

const context = { clientAddress: "10.0.0.9:51234", connectionLabels: {} };
const ran = (rows: number): StatementPreview => ({
  status: "ran",
  rows,
  tagRows: rows,
  commandTag: `UPDATE ${rows}`,
  tables: [],
  plan: "Update on items",
  durationMs: 1,
  at: 0,
});

function setup(found: StatementPreview) {
  const engine = engineFor(POLICY);
  const gate = new FakeApprovalGate();
  const pipeline = new OperationPipeline(
    () => engine,
    new AuditBatcher(new MemoryAuditLog(), 512, new ManualTimers({ turnsAsMicrotasks: true })),
    createMetrics(),
    silentLog,
    () => ({ gate, mode: "hold", timeoutMs: 60_000 }),
  );
  let runs = 0;
  const option = {
    slack: { rows: 2, percent: 10 },
    run: async () => {
      runs += 1;
      return found;
    },
  };
  // As a protocol offers it: asked for an operation's preview only when the preview stage wants one.
  const preview = () => option;
  return { pipeline, gate, preview, runs: () => runs };
}

const update = (table = "public.items") =>
  operation({ steps: [step("UPDATE t SET x = 1", "sql:update", table)] });

describe("preview stage", () => {
  it("allows a small write on its count and carries the ceiling: previewed + rows + percent", async () => {
    const { pipeline, preview, runs } = setup(ran(10));
    const admission = await pipeline.admit(update(), context, { preview });
    expect(runs()).toBe(1);
    expect(admission).toMatchObject({
      allowed: true,
      rowCeiling: { maxRows: 13, previewedRows: 10, requestId: "" },
    });
  });

  it("holds a large write with the preview attached, and the approved run carries its ceiling", async () => {
    const { pipeline, gate, preview } = setup(ran(100));
    const admitted = pipeline.admit(update(), context, { preview });
    for (let i = 0; i < 50 && !gate.holding; i++) await Promise.resolve();
    expect(gate.inputs[0]?.preview).toEqual(ran(100));
    gate.decide({ decision: "approved", requestId: "req-1" });
    expect(await admitted).toMatchObject({ allowed: true, rowCeiling: { maxRows: 112, requestId: "req-1" } });
  });

  it("never previews a statement a forbid denies", async () => {
    const { pipeline, preview, runs } = setup(ran(1));
    const admission = await pipeline.admit(update("public.sealed"), context, { preview });
    expect(admission.allowed).toBe(false);
    expect(runs()).toBe(0);
  });

  it("never previews reads, and a refused preview leaves the approval without a ceiling", async () => {
    const read = setup(ran(1));
    await read.pipeline.admit(operation(), context, { preview: read.preview });
    expect(read.runs()).toBe(0);
    const refused = setup({ status: "refused", reason: "it calls nextval()", at: 0 });
    const admitted = refused.pipeline.admit(update(), context, { preview: refused.preview });
    for (let i = 0; i < 50 && !refused.gate.holding; i++) await Promise.resolve();
    expect(refused.gate.inputs[0]?.preview).toMatchObject({ status: "refused" });
    refused.gate.decide({ decision: "approved", requestId: "req-1" });
    const admission = await admitted;
    expect(admission.allowed).toBe(true);
    expect("rowCeiling" in admission).toBe(false);
  });

  it("holds a deferred re-run to the ceiling of the preview its approver saw, not a fresh one", async () => {
    const { pipeline, gate, preview } = setup(ran(500));
    gate.grant = { requestId: "req-7", preview: ran(50) };
    const admission = await pipeline.admit(update(), context, { preview });
    expect(admission).toMatchObject({
      allowed: true,
      rowCeiling: { maxRows: 57, previewedRows: 50, requestId: "req-7" },
    });
    // A grant (a window of time over many statements) carries no ceiling.
    gate.grant = { requestId: "req-8", grantId: "grt-1", grantExpiresAt: Date.now() + 60_000 };
    expect("rowCeiling" in (await pipeline.admit(update(), context, { preview }))).toBe(false);
  });
});
