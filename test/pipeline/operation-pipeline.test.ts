import { describe, expect, it } from "vitest";
import { expandFolded } from "../../src/audit/folded-result.js";
import { LatchError } from "../../src/errors.js";
import { createMetrics, type Metrics } from "../../src/observability/metrics.js";
import type { Verdict } from "../../src/operation/operation.js";
import { AuditBatcher } from "../../src/pipeline/audit-batcher.js";
import { OperationPipeline } from "../../src/pipeline/operation-pipeline.js";
import type { Admission, ApprovalHold } from "../../src/pipeline/pipeline-types.js";
import type { AuditEventInput } from "../../src/store/store.js";
import { FakeApprovalGate } from "../support/fake-approval-gate.js";
import { ManualTimers } from "../support/manual-timers.js";
import { failOnKinds, MemoryAuditLog } from "../support/memory-audit-log.js";
import {
  allow,
  deny,
  FakePolicy,
  needsApproval,
  operation,
  silentLog,
  step,
} from "../support/operation-fixtures.js";

const context = { clientAddress: "10.0.0.9:51234", connectionLabels: { env: "prod" } };
const TIMEOUT_MS = 300_000;

function setup(options: { verdict?: Verdict; approvals?: "hold" | "defer" | "off" } = {}) {
  const log = new MemoryAuditLog();
  const timers = new ManualTimers({ turnsAsMicrotasks: true });
  const policy = new FakePolicy(options.verdict ?? allow);
  const gate = new FakeApprovalGate();
  const metrics = createMetrics();
  const mode = options.approvals ?? "hold";
  const pipeline = new OperationPipeline(
    () => policy,
    new AuditBatcher(log, 512, timers),
    metrics,
    silentLog,
    mode === "off" ? undefined : () => ({ gate, mode, timeoutMs: TIMEOUT_MS }),
  );
  return { log, timers, policy, gate, metrics, pipeline };
}

async function decisions(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.operations.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.decision), v.value]));
}

async function auditFailures(metrics: Metrics): Promise<number> {
  return (await metrics.auditWriteFailures.get()).values[0]?.value ?? 0;
}

function denied(admission: Admission): Extract<Admission, { allowed: false }> {
  if (admission.allowed) throw new Error(`expected a denial, got ${JSON.stringify(admission.verdict)}`);
  return admission;
}

function ofKind(events: readonly AuditEventInput[], kind: string): AuditEventInput {
  const found = events.find((e) => e.kind === kind);
  if (found === undefined) throw new Error(`no ${kind} event in ${events.map((e) => e.kind).join(", ")}`);
  return found;
}

/** Lets promise callbacks run; no timers involved. */
async function microtasks(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

describe("OperationPipeline: authorize and audit", () => {
  it("asks policy about the whole operation with the session's context", async () => {
    const { policy, pipeline } = setup();
    const op = operation({ steps: [step("SELECT 1"), step("DELETE FROM items", "sql:delete")] });
    await pipeline.admit(op, context);
    expect(policy.requests).toHaveLength(1);
    const request = policy.requests[0]!;
    expect(request.steps.map((s) => s.text)).toEqual(["SELECT 1", "DELETE FROM items"]);
    expect(request.identity).toBe(op.identity);
    expect(request.connection).toBe("analytics");
    expect(request.connectionLabels).toEqual({ env: "prod" });
    expect(request.clientAddress).toBe("10.0.0.9:51234");
    expect(request.now.getTime()).toBe(op.receivedAt);
  });

  it("allows only once the operation is durably on record", async () => {
    const { log, metrics, pipeline } = setup();
    log.async = true;
    const op = operation();
    let admission: Admission | undefined;
    void pipeline.admit(op, context).then((a) => {
      admission = a;
    });
    await microtasks();
    expect(log.pending).toBe(1);
    expect(admission).toBeUndefined();
    log.settle();
    await microtasks();
    expect(admission).toEqual({ allowed: true, verdict: allow });
    expect(log.kinds()).toEqual(["operation"]);
    expect(log.events[0]).toEqual({
      kind: "operation",
      sessionId: "session-1",
      data: {
        operationId: op.id,
        mode: "simple",
        statements: [
          {
            text: "SELECT * FROM items",
            verb: "sql:select",
            tablesRead: ["public.items"],
            tablesWritten: [],
          },
        ],
        verdict: { decision: "allow", rules: allow.rules, reason: allow.reason },
        // The question policy answered, for `latch policy replay`.
        policyInput: {
          v: 1,
          subject: op.identity.subject,
          issuer: op.identity.issuer,
          groups: op.identity.groups,
          connection: "analytics",
          labels: context.connectionLabels,
          clientAddress: context.clientAddress,
          at: Date.UTC(2026, 0, 6, 10, 30),
          steps: [{ action: "sql:select", accesses: op.steps[0]!.accesses, facts: op.steps[0]!.facts }],
        },
      },
    });
    expect(await decisions(metrics)).toEqual({ allow: 1 });
  });

  it("records a denial before answering it with statement_denied", async () => {
    const { log, metrics, pipeline } = setup({ verdict: deny });
    const admission = denied(await pipeline.admit(operation(), context));
    expect(admission.error.code).toBe("statement_denied");
    expect(admission.error.message).toContain("writes are forbidden");
    expect(admission.verdict).toBe(deny);
    expect(log.kinds()).toEqual(["operation"]);
    expect(log.events[0]?.data.verdict).toEqual({ decision: "deny", rules: deny.rules, reason: deny.reason });
    expect(await decisions(metrics)).toEqual({ deny: 1 });
  });

  it("denies an allowed operation with audit_unavailable when it cannot be recorded", async () => {
    const { log, metrics, pipeline } = setup();
    log.fail = failOnKinds("operation");
    const admission = denied(await pipeline.admit(operation(), context));
    expect(admission.error.code).toBe("audit_unavailable");
    expect((admission.error.cause as Error).message).toContain("disk full");
    expect(admission.verdict).toEqual({ decision: "deny", rules: [], reason: "audit log unavailable" });
    expect(log.events).toHaveLength(0);
    expect(await auditFailures(metrics)).toBe(1);
    expect(await decisions(metrics)).toEqual({ deny: 1 });
  });

  it("denies, and records the denial, when policy evaluation throws", async () => {
    const { log, policy, pipeline } = setup();
    policy.answer = () => {
      throw new Error("cedar wasm trapped");
    };
    const admission = denied(await pipeline.admit(operation(), context));
    expect(admission.error.code).toBe("statement_denied");
    expect(admission.error.message).toContain("policy evaluation failed");
    expect(log.events[0]?.data.verdict).toEqual({
      decision: "deny",
      rules: [],
      reason: "policy evaluation failed",
    });
  });

  it("records truncated parameter previews with the operation", async () => {
    const { log, pipeline } = setup();
    const long = "x".repeat(300);
    await pipeline.admit(operation({ mode: "extended", parameters: [[long, null, "7"]] }), context);
    const parameters = log.events[0]?.data.parameters as string[][];
    expect(parameters[0]?.[0]).toBe(`${"x".repeat(256)}…`);
    expect(parameters[0]?.slice(1)).toEqual([null, "7"]);
  });
});

describe("OperationPipeline: approval verdicts", () => {
  it("denies with a clear reason when approvals are not enabled", async () => {
    const { log, gate, pipeline } = setup({ verdict: needsApproval, approvals: "off" });
    const admission = denied(await pipeline.admit(operation(), context));
    expect(admission.error.code).toBe("statement_denied");
    expect(admission.error.message).toContain('needs approval by group "dba"');
    expect(admission.error.message).toContain("approvals are not enabled on this gateway");
    expect(admission.verdict.decision).toBe("deny");
    expect(log.events[0]?.data.verdict).toMatchObject({ decision: "deny" });
    expect(gate.grantChecks).toHaveLength(0);
    expect(gate.inputs).toHaveLength(0);
  });

  it("lets a grant release the operation: `operation` then `approval_released`, in one write", async () => {
    const { log, gate, metrics, pipeline } = setup({ verdict: needsApproval });
    const expiresAt = Date.UTC(2026, 0, 6, 12);
    gate.grant = { requestId: "req-9", grantId: "grant-3", grantExpiresAt: expiresAt };
    const op = operation();
    const admission = await pipeline.admit(op, context);
    expect(admission.allowed).toBe(true);
    if (!admission.allowed) return;
    expect(admission.grantExpiresAt).toBe(expiresAt);
    expect(admission.verdict.decision).toBe("allow");
    expect(admission.verdict.reason).toBe(
      `${needsApproval.reason}; released by grant grant-3 (request req-9)`,
    );
    expect(log.kinds()).toEqual(["operation", "approval_released"]);
    expect(log.groups).toHaveLength(1);
    expect(log.events[0]?.data.approval).toEqual({ requestId: "req-9", grantId: "grant-3" });
    expect(log.events[0]?.data.verdict).toMatchObject({ decision: "allow" });
    expect(log.events[1]?.data).toEqual({ requestId: "req-9", grantId: "grant-3", operationId: op.id });
    expect(gate.inputs).toHaveLength(0); // no new request
    expect(await decisions(metrics)).toEqual({ allow: 1 });
  });

  it("names the approved request when a one-time release (no grant) lets it through", async () => {
    const { log, gate, pipeline } = setup({ verdict: needsApproval, approvals: "defer" });
    gate.grant = { requestId: "req-4" };
    const admission = await pipeline.admit(operation(), context);
    expect(admission).not.toHaveProperty("grantExpiresAt");
    expect(admission.verdict.reason).toContain("released by approved request req-4");
    expect(log.events[1]?.data).not.toHaveProperty("grantId");
  });

  it("denies a granted operation when the release cannot be recorded", async () => {
    const { log, gate, pipeline } = setup({ verdict: needsApproval });
    gate.grant = { requestId: "req-9", grantId: "grant-3" };
    log.fail = failOnKinds("approval_released");
    const admission = denied(await pipeline.admit(operation(), context));
    expect(admission.error.code).toBe("audit_unavailable");
  });
});

describe("OperationPipeline: held for approval", () => {
  it("records the held operation before the request exists, tells the client, then waits for the decision", async () => {
    const { log, gate, metrics, pipeline } = setup({ verdict: needsApproval });
    const holds: { hold: ApprovalHold; recorded: string[] }[] = [];
    const op = operation();
    let admission: Admission | undefined;
    void pipeline
      .admit(op, context, { onHeld: (hold) => holds.push({ hold, recorded: log.kinds() }) })
      .then((a) => {
        admission = a;
      });
    await microtasks();
    expect(gate.holding).toBe(true);
    expect(admission).toBeUndefined();
    expect(holds).toHaveLength(1);
    expect(holds[0]?.recorded).toEqual(["operation"]); // on record before the client hears of the hold
    expect(holds[0]?.hold).toMatchObject({
      requestId: "req-1",
      approval: { group: "dba", quorum: 1 },
      timeoutMs: TIMEOUT_MS,
      expiresAt: Date.UTC(2026, 0, 6, 10, 35),
    });
    expect(log.events[0]?.data.approval).toEqual({
      requestId: "req-1",
      mode: "hold",
      expiresAt: new Date(Date.UTC(2026, 0, 6, 10, 35)).toISOString(),
    });
    expect(await decisions(metrics)).toEqual({ approval: 1 });

    gate.decide({ decision: "approved", requestId: "req-1", grantId: "grant-8" });
    await microtasks();
    expect(admission?.allowed).toBe(true);
    expect(admission?.verdict.reason).toBe(`${needsApproval.reason}; approved (request req-1)`);
    expect(log.kinds()).toEqual(["operation", "approval_released"]);
    expect(log.events[1]?.data).toEqual({ requestId: "req-1", operationId: op.id, grantId: "grant-8" });
    expect(await decisions(metrics)).toEqual({ approval: 1, allow: 1 });
  });

  it("passes the approval settings and the operation to the gate", async () => {
    const { gate, pipeline } = setup({ verdict: needsApproval });
    const op = operation();
    void pipeline.admit(op, context);
    await microtasks();
    expect(gate.inputs[0]).toMatchObject({
      operation: op,
      verdict: needsApproval,
      mode: "hold",
      timeoutMs: TIMEOUT_MS,
    });
  });

  it("abandons the request when the client's signal aborts", async () => {
    const { log, gate, pipeline } = setup({ verdict: needsApproval });
    const client = new AbortController();
    const admitting = pipeline.admit(operation(), context, { signal: client.signal });
    await microtasks();
    expect(gate.inputs[0]?.signal.aborted).toBe(false);
    client.abort();
    const admission = denied(await admitting);
    expect(gate.inputs[0]?.signal.aborted).toBe(true);
    expect(admission.error.code).toBe("approval_denied");
    expect(admission.error.message).toContain("req-1");
    await pipeline.flush();
    expect(ofKind(log.events, "operation_result").data).toMatchObject({
      requestId: "req-1",
      approval: "abandoned",
      error: { code: "approval_denied" },
    });
  });

  it("never creates a request for a client that already left", async () => {
    const { log, gate, pipeline } = setup({ verdict: needsApproval });
    const client = new AbortController();
    client.abort();
    const admission = denied(await pipeline.admit(operation(), context, { signal: client.signal }));
    expect(gate.inputs[0]?.signal.aborted).toBe(true);
    expect(admission.error.code).toBe("approval_unavailable");
    await pipeline.flush();
    expect(log.kinds()).toEqual(["operation_result"]);
  });

  it.each([
    ["denied", "approval_denied", "approval request req-1 was denied"],
    ["expired", "approval_expired", "approval request req-1 expired"],
  ] as const)("answers a request that was %s with %s", async (decision, code, message) => {
    const { log, gate, metrics, pipeline } = setup({ verdict: needsApproval });
    const admitting = pipeline.admit(operation(), context);
    await microtasks();
    gate.decide({ decision, requestId: "req-1", reason: "not during the freeze" });
    const admission = denied(await admitting);
    expect(admission.error.code).toBe(code);
    expect(admission.error.message).toContain(message);
    expect(admission.error.message).toContain("not during the freeze");
    expect(admission.verdict).toMatchObject({ decision: "deny", reason: admission.error.message });
    await pipeline.flush();
    expect(log.kinds()).toEqual(["operation", "operation_result"]);
    expect(log.events[1]?.data).toMatchObject({ approval: decision, error: { code } });
    expect(await decisions(metrics)).toEqual({ approval: 1, deny: 1 });
  });

  it("denies with audit_unavailable, and never tells the client it is held, when the hold cannot be recorded", async () => {
    const { log, pipeline } = setup({ verdict: needsApproval });
    log.fail = failOnKinds("operation");
    const held: ApprovalHold[] = [];
    const admission = denied(
      await pipeline.admit(operation(), context, { onHeld: (hold) => held.push(hold) }),
    );
    expect(admission.error.code).toBe("audit_unavailable");
    expect(held).toHaveLength(0);
  });

  it("denies an approved operation whose release cannot be recorded", async () => {
    const { log, gate, pipeline } = setup({ verdict: needsApproval });
    log.fail = failOnKinds("approval_released");
    const admitting = pipeline.admit(operation(), context);
    await microtasks();
    gate.decide({ decision: "approved", requestId: "req-1" });
    expect(denied(await admitting).error.code).toBe("audit_unavailable");
  });

  it("goes on waiting when telling the client about the hold throws", async () => {
    const { gate, pipeline } = setup({ verdict: needsApproval });
    const admitting = pipeline.admit(operation(), context, {
      onHeld: () => {
        throw new Error("client socket gone");
      },
    });
    await microtasks();
    gate.decide({ decision: "approved", requestId: "req-1" });
    expect((await admitting).allowed).toBe(true);
  });

  it("denies with approval_unavailable when the approval gate throws", async () => {
    const { gate, pipeline } = setup({ verdict: needsApproval });
    gate.failRequests = new Error("approvals store locked");
    const admission = denied(await pipeline.admit(operation(), context));
    expect(admission.error.code).toBe("approval_unavailable");
    expect(admission.error.message).toContain("the approval gate failed");
  });
});

describe("OperationPipeline: defer mode", () => {
  it("records a new deferred request and refuses the operation without telling it is held", async () => {
    const { log, pipeline } = setup({ verdict: needsApproval, approvals: "defer" });
    const held: ApprovalHold[] = [];
    const admission = denied(
      await pipeline.admit(operation(), context, { onHeld: (hold) => held.push(hold) }),
    );
    expect(admission.error.code).toBe("approval_deferred");
    expect(held).toHaveLength(0);
    await pipeline.flush();
    expect(log.kinds()).toEqual(["operation", "operation_result"]);
    expect(log.events[0]?.data.approval).toMatchObject({ requestId: "req-1", mode: "defer" });
    expect(log.events[1]?.data).toMatchObject({ requestId: "req-1", approval: "deferred" });
  });

  it("records a re-run of a pending request with the request it names", async () => {
    const { log, gate, pipeline } = setup({ verdict: needsApproval, approvals: "defer" });
    gate.nextOutcome = { decision: "deferred", requestId: "req-5", reason: "still waiting for a DBA" };
    const admission = denied(await pipeline.admit(operation(), context));
    expect(admission.error.code).toBe("approval_deferred");
    expect(admission.error.message).toContain("still waiting for a DBA");
    expect(log.events[0]).toMatchObject({
      kind: "operation",
      data: { approval: { requestId: "req-5", mode: "defer" } },
    });
  });

  it("denies with audit_unavailable when the re-run cannot be recorded", async () => {
    const { log, gate, pipeline } = setup({ verdict: needsApproval, approvals: "defer" });
    gate.nextOutcome = { decision: "deferred", requestId: "req-5", reason: "still waiting" };
    log.fail = failOnKinds("operation");
    expect(denied(await pipeline.admit(operation(), context)).error.code).toBe("audit_unavailable");
  });
});

describe("OperationPipeline: what protocols record", () => {
  it("recordRefusal records the operation as denied with the error's message", async () => {
    const { log, metrics, pipeline } = setup();
    const op = operation({ mode: "refused" });
    pipeline.recordRefusal(
      op,
      new LatchError("statement_unparseable", { reason: "syntax error at or near SELEC" }),
    );
    await pipeline.flush();
    expect(log.events[0]).toMatchObject({
      kind: "operation",
      sessionId: "session-1",
      data: { operationId: op.id, mode: "refused", verdict: { decision: "deny", rules: [] } },
    });
    expect(log.events[0]?.data.verdict).toMatchObject({ reason: expect.stringContaining("SELEC") });
    expect(await decisions(metrics)).toEqual({ deny: 1 });
  });

  it("complete holds the result: written standalone after the delay when the session sends nothing more", async () => {
    const { log, timers, pipeline } = setup();
    const op = operation();
    pipeline.complete(op, {
      durationMs: 12.34567,
      rows: 3,
      commandTags: ["SELECT 3"],
      error: { code: "57014", message: "canceled" },
    });
    await microtasks();
    expect(log.events).toHaveLength(0);
    timers.advance(10);
    expect(log.events[0]).toEqual({
      kind: "operation_result",
      sessionId: "session-1",
      data: {
        operationId: op.id,
        durationMs: 12.346,
        rows: 3,
        commandTags: ["SELECT 3"],
        error: { code: "57014", message: "canceled" },
      },
    });
  });

  it("folds a result into the same session's next operation: one chained event, two logical ones", async () => {
    const { log, pipeline } = setup();
    const first = operation();
    await pipeline.admit(first, context);
    pipeline.complete(first, { durationMs: 1, rows: 2, commandTags: ["SELECT 2"] });
    // Another session's operation does not carry it, and does not write it either.
    await pipeline.admit(operation({ sessionId: "session-2" }), context);
    const next = operation();
    await pipeline.admit(next, context);
    expect(log.events.map((e) => [e.kind, e.sessionId])).toEqual([
      ["operation", "session-1"],
      ["operation", "session-2"],
      ["operation", "session-1"],
    ]);
    const carrier = log.events[2]!;
    const result = { commandTags: ["SELECT 2"], durationMs: 1, operationId: first.id, rows: 2 };
    expect(carrier.data.priorResult).toEqual(result);
    // Keys stay sorted, so the canonical encoding keeps its native path.
    expect(Object.keys(carrier.data)).toEqual([...Object.keys(carrier.data)].sort());
    expect(expandFolded(carrier).map((e) => [e.kind, e.data.operationId])).toEqual([
      ["operation_result", first.id],
      ["operation", next.id],
    ]);
    expect(expandFolded(carrier)[1]!.data).not.toHaveProperty("priorResult");
  });

  it("writes a held result standalone before any other event of its session, and on flush", async () => {
    const { log, pipeline } = setup();
    const first = operation();
    await pipeline.admit(first, context);
    pipeline.complete(first, { durationMs: 1, rows: 0, commandTags: [] });
    await pipeline.recordDurably({ kind: "session_end", sessionId: "session-1", data: {} });
    expect(log.events.map((e) => e.kind)).toEqual(["operation", "operation_result", "session_end"]);
    const second = operation({ sessionId: "session-3" });
    pipeline.complete(second, { durationMs: 1, rows: 0, commandTags: [] });
    await pipeline.flush();
    expect(log.events.at(-1)).toMatchObject({ kind: "operation_result", data: { operationId: second.id } });
  });

  it("denies the carrier and counts the folded result as unwritten when the store fails", async () => {
    const { log, pipeline, metrics } = setup();
    const first = operation();
    await pipeline.admit(first, context);
    pipeline.complete(first, { durationMs: 1, rows: 0, commandTags: [] });
    log.fail = failOnKinds("operation");
    const admission = await pipeline.admit(operation(), context);
    expect(admission.allowed).toBe(false);
    expect((await metrics.auditWriteFailures.get()).values[0]?.value).toBe(2);
    log.fail = undefined;
    await pipeline.flush();
    expect(log.events.map((e) => e.kind)).toEqual(["operation"]);
  });

  it("recordProtocolError leaves a protocol_error event, with or without a session", async () => {
    const { log, pipeline } = setup();
    pipeline.recordProtocolError(null, new LatchError("protocol_violation", { reason: "bad length" }));
    pipeline.recordProtocolError("session-2", new LatchError("message_too_large", { size: 9, limit: 8 }));
    await pipeline.flush();
    expect(log.events).toEqual([
      {
        kind: "protocol_error",
        sessionId: null,
        data: { code: "protocol_violation", message: "protocol violation: bad length" },
      },
      {
        kind: "protocol_error",
        sessionId: "session-2",
        data: expect.objectContaining({ code: "message_too_large" }),
      },
    ]);
  });

  it("counts a failed fire-and-forget record instead of throwing", async () => {
    const { log, metrics, pipeline } = setup();
    log.fail = failOnKinds("protocol_error");
    pipeline.recordProtocolError("session-1", new LatchError("protocol_violation", { reason: "x" }));
    await pipeline.flush();
    expect(await auditFailures(metrics)).toBe(1);
  });

  it("recordDurably resolves once written and rejects when the store cannot write", async () => {
    const { log, pipeline } = setup();
    await pipeline.recordDurably({ kind: "session_start", sessionId: "s", data: {} });
    expect(log.kinds()).toEqual(["session_start"]);
    log.fail = failOnKinds("session_end");
    await expect(pipeline.recordDurably({ kind: "session_end", sessionId: "s", data: {} })).rejects.toThrow(
      "disk full",
    );
  });
});

describe("OperationPipeline: admitNow (forwarding in the turn the operation came)", () => {
  it("returns the admission itself once the load is one statement at a time, with the record already written", async () => {
    const { log, pipeline } = setup();
    const first = pipeline.admitNow!(operation(), context);
    expect(first).toBeInstanceOf(Promise); // nothing known about the load yet: the end of the turn, as admit
    expect((await first).allowed).toBe(true);
    const op = operation();
    const second = pipeline.admitNow!(op, context);
    expect(second).not.toBeInstanceOf(Promise);
    expect((second as Admission).allowed).toBe(true);
    // Durable before it is returned: the record is in the log already.
    expect(log.events.at(-1)?.data.operationId).toBe(op.id);
  });

  it("returns a denial the same way, recorded, and a failed record as a denial", async () => {
    const { log, pipeline, policy } = setup();
    await pipeline.admitNow!(operation(), context);
    policy.answer = deny;
    const refused = pipeline.admitNow!(operation(), context) as Admission;
    expect(denied(refused).error.code).toBe("statement_denied");
    await microtasks(); // the next turn: the one above opened this turn's group
    log.fail = () => new Error("disk full");
    const failed = pipeline.admitNow!(operation(), context);
    expect(failed).not.toBeInstanceOf(Promise);
    expect(denied(failed as Admission).error.code).toBe("audit_unavailable");
  });
});
