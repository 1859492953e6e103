import { rmSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isApprovalError } from "../../src/approvals/approval-errors.js";
import type { ApprovalOutcome } from "../../src/approvals/approval-types.js";
import {
  ApprovalHarness,
  agent,
  alice,
  approvalVerdict,
  bob,
  identity,
  mallory,
  onlyPending,
  operation,
  updateStatement,
} from "./approval-fixtures.js";

let harness: ApprovalHarness;
beforeEach(() => {
  harness = new ApprovalHarness();
});
afterEach(() => harness.close());

function hold(
  service: ReturnType<ApprovalHarness["service"]>,
  options: {
    timeoutMs?: number;
    quorum?: number;
    signal?: AbortSignal;
    op?: ReturnType<typeof operation>;
  } = {},
): Promise<ApprovalOutcome> {
  return service.requestApproval({
    operation: options.op ?? operation(),
    verdict: approvalVerdict("dba", options.quorum ?? 1),
    mode: "hold",
    timeoutMs: options.timeoutMs ?? 5_000,
    signal: options.signal ?? new AbortController().signal,
  });
}

function errorCode(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isApprovalError(error)) return error.code;
    throw error;
  }
  return "no error";
}

describe("hold mode", () => {
  it("releases the held statement when an approver of the group approves", async () => {
    const service = harness.service();
    const outcome = hold(service);
    const id = onlyPending(service);
    const decided = service.approve(id, alice, { reason: "ticket 42" });
    expect(decided.state).toBe("approved");
    await expect(outcome).resolves.toEqual({ decision: "approved", requestId: id });
    expect(harness.kinds()).toEqual(["approval_requested", "approval_vote", "approval_decided"]);
    expect(harness.auditStore.verifyChain().ok).toBe(true);
  });

  it("refuses the statement on a deny, and the deny is final", async () => {
    const service = harness.service();
    const outcome = hold(service, { quorum: 2 });
    const id = onlyPending(service);
    service.approve(id, alice, {});
    service.deny(id, bob, { reason: "not during the freeze" });
    const result = await outcome;
    expect(result).toMatchObject({ decision: "denied", requestId: id });
    expect(result.decision === "denied" && result.reason).toContain("not during the freeze");
    expect(errorCode(() => service.approve(id, identity("carol", ["dba"]), {}))).toBe("request_not_pending");
  });

  it("expires when nobody decides in time, and an approval afterwards is refused", async () => {
    const service = harness.service();
    const started = Date.now();
    const outcome = await hold(service, { timeoutMs: 150 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(outcome.decision).toBe("expired");
    expect(service.getRequest(outcome.requestId)?.state).toBe("expired");
    expect(errorCode(() => service.approve(outcome.requestId, alice, {}))).toBe("request_not_pending");
  });

  it("needs a quorum of distinct approvers; the same approver twice counts once", async () => {
    const service = harness.service();
    const outcome = hold(service, { quorum: 2 });
    const id = onlyPending(service);
    expect(service.approve(id, alice, {}).state).toBe("pending");
    expect(errorCode(() => service.approve(id, alice, {}))).toBe("already_voted");
    expect(service.getRequest(id)?.votes).toHaveLength(1);
    expect(service.getRequest(id)?.state).toBe("pending");
    expect(service.approve(id, bob, {}).state).toBe("approved");
    await expect(outcome).resolves.toMatchObject({ decision: "approved" });
  });

  it("refuses self-approval and approvers outside the group", async () => {
    const service = harness.service();
    const outcome = hold(service, {
      timeoutMs: 300,
      op: operation([updateStatement()], identity("agent-1", ["agents", "dba"])),
    });
    const id = onlyPending(service);
    expect(errorCode(() => service.approve(id, identity("agent-1", ["dba"]), {}))).toBe("self_approval");
    expect(errorCode(() => service.approve(id, mallory, {}))).toBe("not_in_group");
    expect(errorCode(() => service.approve("req_unknown", alice, {}))).toBe("request_not_found");
    expect((await outcome).decision).toBe("expired");
  });

  it("marks the request abandoned when the client disconnects, and it can never be approved later", async () => {
    const service = harness.service();
    const controller = new AbortController();
    const outcome = hold(service, { signal: controller.signal });
    const id = onlyPending(service);
    controller.abort();
    await expect(outcome).resolves.toMatchObject({ decision: "abandoned", requestId: id });
    expect(service.getRequest(id)?.state).toBe("abandoned");
    expect(errorCode(() => service.approve(id, alice, {}))).toBe("request_not_pending");
  });

  it("fails closed when the store goes away while a statement is held", async () => {
    const service = harness.service();
    // A 10-minute hold: resolving at all (within the test's timeout) shows it failed closed at once.
    const outcome = hold(service, { timeoutMs: 600_000 });
    const id = onlyPending(service);
    rmSync(harness.file);
    expect(errorCode(() => service.approve(id, alice, {}))).toBe("store_unavailable");
    const result = await outcome;
    expect(result.decision).toBe("denied");
    expect(result.decision === "denied" && result.reason).toMatch(/audit log unavailable/);
  });

  it("fails closed at once when only the approval store fails while a statement is held", async () => {
    const store = harness.openStore();
    const service = harness.service({}, store);
    const outcome = hold(service, { timeoutMs: 600_000 });
    const id = onlyPending(service);
    store.close();
    expect(errorCode(() => service.approve(id, alice, {}))).toBe("store_unavailable");
    const result = await outcome;
    expect(result.decision).toBe("denied");
    expect(result.decision === "denied" && result.reason).toMatch(/approval store unavailable/);
  });

  it("refuses at once when the request cannot be stored", async () => {
    const store = harness.openStore();
    const service = harness.service({}, store);
    store.close();
    const result = await hold(service);
    expect(result.decision).toBe("denied");
  });
});

describe("bindings", () => {
  it("an approval for statement A never releases statement B, nor A with other parameters", async () => {
    const service = harness.service();
    const controller = new AbortController();
    const first = operation([updateStatement("UPDATE orders SET total = 10 WHERE id = $1")], agent, [["1"]]);
    const outcome = hold(service, { op: first, signal: controller.signal });
    const id = onlyPending(service);
    service.approve(id, alice, {});
    await outcome;
    const other = operation([updateStatement("UPDATE orders SET total = 0 WHERE id = $1")], agent, [["1"]]);
    const otherParams = operation([updateStatement("UPDATE orders SET total = 10 WHERE id = $1")], agent, [
      ["2"],
    ]);
    expect(service.checkGrant(other, approvalVerdict())).toBeUndefined();
    expect(service.checkGrant(otherParams, approvalVerdict())).toBeUndefined();
    expect(service.getRequest(id)?.binding).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("defer mode", () => {
  it("refuses at once, then lets the same statement through exactly once after approval", async () => {
    const service = harness.service();
    const run = () => operation([updateStatement()]);
    const first = await service.requestApproval({
      operation: run(),
      verdict: approvalVerdict(),
      mode: "defer",
      timeoutMs: 60_000,
      signal: new AbortController().signal,
    });
    expect(first.decision).toBe("deferred");
    // Re-running before approval reuses the same request instead of flooding approvers.
    const again = await service.requestApproval({
      operation: run(),
      verdict: approvalVerdict(),
      mode: "defer",
      timeoutMs: 60_000,
      signal: new AbortController().signal,
    });
    expect(again.requestId).toBe(first.requestId);
    expect(service.checkGrant(run(), approvalVerdict())).toBeUndefined();
    service.approve(first.requestId, alice, { reason: "ok once" });
    expect(
      service.checkGrant(
        operation([updateStatement("UPDATE orders SET total = 11 WHERE id = 1")]),
        approvalVerdict(),
      ),
    ).toBeUndefined();
    expect(service.checkGrant(run(), approvalVerdict("dba", 2))).toBeUndefined();
    expect(service.checkGrant(run(), approvalVerdict())).toEqual({ requestId: first.requestId });
    expect(service.checkGrant(run(), approvalVerdict())).toBeUndefined();
    expect(harness.kinds()).toContain("approval_released");
  });
});

describe("grants", () => {
  it("a grant window lets another statement of the same kind through, then expires", async () => {
    const service = harness.service();
    const outcome = hold(service);
    const id = onlyPending(service);
    const decided = service.approve(id, alice, { forMs: 300 });
    const result = await outcome;
    expect(result).toEqual({ decision: "approved", requestId: id, grantId: decided.grantId });
    const second = operation([updateStatement("UPDATE orders SET total = 99 WHERE id = 7")]);
    expect(service.checkGrant(second, approvalVerdict())).toEqual({
      requestId: id,
      grantId: decided.grantId,
      grantExpiresAt: service.getGrant(decided.grantId!)!.expiresAt,
    });
    expect(service.checkGrant(second, approvalVerdict())?.grantId).toBe(decided.grantId);
    // Another principal, another table, or a stricter approval requirement are not covered.
    expect(
      service.checkGrant(operation([updateStatement()], identity("agent-2", ["agents"])), approvalVerdict()),
    ).toBeUndefined();
    const deleteUsers = {
      ...updateStatement("DELETE FROM users"),
      accesses: [{ action: "sql:delete", resource: { type: "Table" as const, name: "public.users" } }],
    };
    expect(
      service.checkGrant(operation([updateStatement(), deleteUsers]), approvalVerdict()),
    ).toBeUndefined();
    expect(service.checkGrant(second, approvalVerdict("security"))).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 320));
    expect(service.checkGrant(second, approvalVerdict())).toBeUndefined();
  });

  it("refuses a grant window above the configured maximum", () => {
    const service = harness.service({ maxGrantMs: 60_000 });
    void hold(service, { timeoutMs: 200 });
    const id = onlyPending(service);
    expect(errorCode(() => service.approve(id, alice, { forMs: 120_000 }))).toBe("invalid_input");
  });

  it("a revoked grant releases nothing", async () => {
    const service = harness.service();
    const outcome = hold(service);
    const id = onlyPending(service);
    const { grantId } = service.approve(id, alice, { forMs: 60_000 });
    await outcome;
    service.revokeGrant(grantId!, alice, "done");
    expect(service.checkGrant(operation(), approvalVerdict())).toBeUndefined();
    expect(errorCode(() => service.revokeGrant(grantId!, alice, "again"))).toBe("grant_already_revoked");
    expect(harness.kinds()).toContain("grant_revoked");
  });

  it("quorum approvers giving different windows grant the shortest", async () => {
    const service = harness.service();
    const outcome = hold(service, { quorum: 2 });
    const id = onlyPending(service);
    service.approve(id, alice, { forMs: 600_000 });
    const { grantId } = service.approve(id, bob, { forMs: 60_000 });
    await outcome;
    const grant = service.getGrant(grantId!)!;
    expect(grant.expiresAt - grant.createdAt).toBe(60_000);
  });
});

describe("restart", () => {
  it("a new service over the same file sees pending requests: held ones abandoned, deferred ones still pending", async () => {
    const store = harness.openStore();
    const before = harness.service({}, store);
    void hold(before, { timeoutMs: 60_000 });
    const heldId = onlyPending(before);
    const deferred = await before.requestApproval({
      operation: operation([updateStatement("DELETE FROM orders WHERE id = 3")]),
      verdict: approvalVerdict(),
      mode: "defer",
      timeoutMs: 60_000,
      signal: new AbortController().signal,
    });
    before.close();
    store.close();

    const after = harness.service();
    expect(after.getRequest(heldId)).toMatchObject({
      state: "abandoned",
      decisionReason: expect.stringMatching(/restarted/),
    });
    expect(after.getRequest(deferred.requestId)?.state).toBe("pending");
    expect(errorCode(() => after.approve(heldId, alice, {}))).toBe("request_not_pending");
    after.approve(deferred.requestId, alice, {});
    expect(
      after.checkGrant(operation([updateStatement("DELETE FROM orders WHERE id = 3")]), approvalVerdict())
        ?.requestId,
    ).toBe(deferred.requestId);
  });

  it("the sweeper expires deferred requests nobody decided", async () => {
    const service = harness.service();
    const { requestId } = await service.requestApproval({
      operation: operation(),
      verdict: approvalVerdict(),
      mode: "defer",
      timeoutMs: 80,
      signal: new AbortController().signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(service.getRequest(requestId)?.state).toBe("expired");
  });
});
