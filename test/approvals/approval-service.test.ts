import { rmSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isApprovalError } from "../../src/approvals/approval-errors.js";
import type { ApprovalService } from "../../src/approvals/approval-service.js";
import type { ApprovalOutcome } from "../../src/approvals/approval-types.js";
import {
  ApprovalHarness,
  agent,
  alice,
  approvalVerdict,
  bob,
  identity,
  mallory,
  nextRequest,
  onlyPending,
  operation,
  updateStatement,
} from "./approval-fixtures.js";

let harness: ApprovalHarness;
beforeEach(() => {
  harness = new ApprovalHarness();
});
afterEach(() => harness.close());

/** Holds a statement; resolves `id` once its request exists. */
function hold(
  service: ApprovalService,
  options: {
    timeoutMs?: number;
    quorum?: number;
    signal?: AbortSignal;
    op?: ReturnType<typeof operation>;
  } = {},
): { id: Promise<string>; outcome: Promise<ApprovalOutcome> } {
  const id = nextRequest(service);
  const outcome = service.requestApproval({
    operation: options.op ?? operation(),
    verdict: approvalVerdict("dba", options.quorum ?? 1),
    mode: "hold",
    timeoutMs: options.timeoutMs ?? 5_000,
    signal: options.signal ?? new AbortController().signal,
  });
  return { id, outcome };
}

async function errorCode(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (isApprovalError(error)) return error.code;
    throw error;
  }
  return "no error";
}

describe("hold mode", () => {
  it("releases the held statement when an approver of the group approves", async () => {
    const service = await harness.service();
    const held = hold(service);
    const id = await held.id;
    expect(await onlyPending(service)).toBe(id);
    const decided = await service.approve(id, alice, { reason: "ticket 42" });
    expect(decided.state).toBe("approved");
    await expect(held.outcome).resolves.toEqual({ decision: "approved", requestId: id });
    expect(harness.kinds()).toEqual(["approval_requested", "approval_vote", "approval_decided"]);
    expect(harness.auditStore.verifyChain().ok).toBe(true);
  });

  it("refuses the statement on a deny, and the deny is final", async () => {
    const service = await harness.service();
    const held = hold(service, { quorum: 2 });
    const id = await held.id;
    await service.approve(id, alice, {});
    await service.deny(id, bob, { reason: "not during the freeze" });
    const result = await held.outcome;
    expect(result).toMatchObject({ decision: "denied", requestId: id });
    expect(result.decision === "denied" && result.reason).toContain("not during the freeze");
    expect(await errorCode(() => service.approve(id, identity("carol", ["dba"]), {}))).toBe(
      "request_not_pending",
    );
  });

  it("expires when nobody decides in time, and an approval afterwards is refused", async () => {
    const service = await harness.service();
    const started = Date.now();
    const outcome = await hold(service, { timeoutMs: 150 }).outcome;
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(outcome.decision).toBe("expired");
    expect((await service.getRequest(outcome.requestId))?.state).toBe("expired");
    expect(await errorCode(() => service.approve(outcome.requestId, alice, {}))).toBe("request_not_pending");
  });

  it("needs a quorum of distinct approvers; the same approver twice counts once", async () => {
    const service = await harness.service();
    const held = hold(service, { quorum: 2 });
    const id = await held.id;
    expect((await service.approve(id, alice, {})).state).toBe("pending");
    expect(await errorCode(() => service.approve(id, alice, {}))).toBe("already_voted");
    expect((await service.getRequest(id))?.votes).toHaveLength(1);
    expect((await service.getRequest(id))?.state).toBe("pending");
    expect((await service.approve(id, bob, {})).state).toBe("approved");
    await expect(held.outcome).resolves.toMatchObject({ decision: "approved" });
  });

  it("two approvers voting at the same moment reach the quorum (votes on one request are taken in turn)", async () => {
    const service = await harness.service();
    const held = hold(service, { quorum: 2 });
    const id = await held.id;
    const [first, second] = await Promise.all([service.approve(id, alice, {}), service.approve(id, bob, {})]);
    expect([first.state, second.state]).toEqual(["pending", "approved"]);
    await expect(held.outcome).resolves.toMatchObject({ decision: "approved", requestId: id });
    expect((await service.getRequest(id))?.votes.map((vote) => vote.approver)).toEqual(["alice", "bob"]);
  });

  it("refuses self-approval and approvers outside the group", async () => {
    const service = await harness.service();
    const held = hold(service, {
      timeoutMs: 300,
      op: operation([updateStatement()], identity("agent-1", ["agents", "dba"])),
    });
    const id = await held.id;
    expect(await errorCode(() => service.approve(id, identity("agent-1", ["dba"]), {}))).toBe(
      "self_approval",
    );
    expect(await errorCode(() => service.approve(id, mallory, {}))).toBe("not_in_group");
    expect(await errorCode(() => service.approve("req_unknown", alice, {}))).toBe("request_not_found");
    expect((await held.outcome).decision).toBe("expired");
  });

  it("marks the request abandoned when the client disconnects, and it can never be approved later", async () => {
    const service = await harness.service();
    const controller = new AbortController();
    const held = hold(service, { signal: controller.signal });
    const id = await held.id;
    controller.abort();
    await expect(held.outcome).resolves.toMatchObject({ decision: "abandoned", requestId: id });
    expect((await service.getRequest(id))?.state).toBe("abandoned");
    expect(await errorCode(() => service.approve(id, alice, {}))).toBe("request_not_pending");
  });

  it("fails closed when the store goes away while a statement is held", async () => {
    const service = await harness.service();
    // A 10-minute hold: resolving at all (within the test's timeout) shows it failed closed at once.
    const held = hold(service, { timeoutMs: 600_000 });
    const id = await held.id;
    rmSync(harness.file);
    expect(await errorCode(() => service.approve(id, alice, {}))).toBe("store_unavailable");
    const result = await held.outcome;
    expect(result.decision).toBe("denied");
    expect(result.decision === "denied" && result.reason).toMatch(/audit log unavailable/);
  });

  it("refuses a vote whose record is rejected: the audit callback's Promise decides, and nothing changes", async () => {
    const service = await harness.service();
    const held = hold(service, { timeoutMs: 600_000 });
    const id = await held.id;
    harness.auditFailure = new Error("journal disk full");
    expect(await errorCode(() => service.approve(id, alice, {}))).toBe("store_unavailable");
    const result = await held.outcome;
    expect(result.decision === "denied" && result.reason).toMatch(/audit log unavailable: journal disk full/);
    harness.auditFailure = undefined;
    expect(await service.getRequest(id)).toMatchObject({ state: "pending", votes: [] });
    expect(harness.kinds()).toEqual(["approval_requested"]);
  });

  it("fails closed at once when only the approval store fails while a statement is held", async () => {
    const store = harness.openStore();
    const service = await harness.service({}, store);
    const held = hold(service, { timeoutMs: 600_000 });
    const id = await held.id;
    store.close();
    expect(await errorCode(() => service.approve(id, alice, {}))).toBe("store_unavailable");
    const result = await held.outcome;
    expect(result.decision).toBe("denied");
    expect(result.decision === "denied" && result.reason).toMatch(/approval store unavailable/);
  });

  it("refuses at once when the request cannot be stored, and closes its record", async () => {
    const store = harness.openStore();
    const service = await harness.service({}, store);
    store.close();
    const result = await hold(service).outcome;
    expect(result.decision).toBe("denied");
    expect(harness.kinds()).toEqual(["approval_requested", "approval_decided"]);
    expect(harness.events[1]!.data).toMatchObject({ state: "abandoned" });
  });

  it("refuses at once, creating nothing, when the request cannot be recorded", async () => {
    const service = await harness.service();
    harness.auditFailure = new Error("record unavailable");
    const result = await hold(service).outcome;
    expect(result).toMatchObject({ decision: "denied", requestId: "" });
    expect(await service.listRequests()).toEqual([]);
  });
});

describe("bindings", () => {
  it("an approval for statement A never releases statement B, nor A with other parameters", async () => {
    const service = await harness.service();
    const controller = new AbortController();
    const first = operation([updateStatement("UPDATE orders SET total = 10 WHERE id = $1")], agent, [["1"]]);
    const held = hold(service, { op: first, signal: controller.signal });
    const id = await held.id;
    await service.approve(id, alice, {});
    await held.outcome;
    const other = operation([updateStatement("UPDATE orders SET total = 0 WHERE id = $1")], agent, [["1"]]);
    const otherParams = operation([updateStatement("UPDATE orders SET total = 10 WHERE id = $1")], agent, [
      ["2"],
    ]);
    expect(await service.checkGrant(other, approvalVerdict())).toBeUndefined();
    expect(await service.checkGrant(otherParams, approvalVerdict())).toBeUndefined();
    expect((await service.getRequest(id))?.binding).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("defer mode", () => {
  it("refuses at once, then lets the same statement through exactly once after approval", async () => {
    const service = await harness.service();
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
    expect(await service.checkGrant(run(), approvalVerdict())).toBeUndefined();
    await service.approve(first.requestId, alice, { reason: "ok once" });
    expect(
      await service.checkGrant(
        operation([updateStatement("UPDATE orders SET total = 11 WHERE id = 1")]),
        approvalVerdict(),
      ),
    ).toBeUndefined();
    expect(await service.checkGrant(run(), approvalVerdict("dba", 2))).toBeUndefined();
    const recordedBefore = harness.kinds().length;
    expect(await service.checkGrant(run(), approvalVerdict())).toEqual({ requestId: first.requestId });
    expect(await service.checkGrant(run(), approvalVerdict())).toBeUndefined();
    // The release is the pipeline's to record, after the operation: the gate writes nothing here.
    expect(harness.kinds().length).toBe(recordedBefore);
    expect(harness.kinds()).not.toContain("approval_released");
  });

  it("two statements racing for one deferred approval: exactly one is released", async () => {
    const service = await harness.service();
    const run = () => operation([updateStatement("UPDATE orders SET total = 5 WHERE id = 5")]);
    const { requestId } = await service.requestApproval({
      operation: run(),
      verdict: approvalVerdict(),
      mode: "defer",
      timeoutMs: 60_000,
      signal: new AbortController().signal,
    });
    await service.approve(requestId, alice, {});
    const released = await Promise.all([1, 2, 3].map(() => service.checkGrant(run(), approvalVerdict())));
    expect(released.filter((found) => found !== undefined)).toEqual([{ requestId }]);
  });
});

describe("grants", () => {
  it("a grant window lets another statement of the same kind through, then expires", async () => {
    const service = await harness.service();
    const held = hold(service);
    const id = await held.id;
    const decided = await service.approve(id, alice, { forMs: 300 });
    const result = await held.outcome;
    expect(result).toEqual({ decision: "approved", requestId: id, grantId: decided.grantId });
    const second = operation([updateStatement("UPDATE orders SET total = 99 WHERE id = 7")]);
    expect(await service.checkGrant(second, approvalVerdict())).toEqual({
      requestId: id,
      grantId: decided.grantId,
      grantExpiresAt: (await service.getGrant(decided.grantId!))!.expiresAt,
    });
    expect((await service.checkGrant(second, approvalVerdict()))?.grantId).toBe(decided.grantId);
    // Another principal, another table, or a stricter approval requirement are not covered.
    expect(
      await service.checkGrant(
        operation([updateStatement()], identity("agent-2", ["agents"])),
        approvalVerdict(),
      ),
    ).toBeUndefined();
    const deleteUsers = {
      ...updateStatement("DELETE FROM users"),
      accesses: [{ action: "sql:delete", resource: { type: "Table" as const, name: "public.users" } }],
    };
    expect(
      await service.checkGrant(operation([updateStatement(), deleteUsers]), approvalVerdict()),
    ).toBeUndefined();
    expect(await service.checkGrant(second, approvalVerdict("security"))).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 320));
    expect(await service.checkGrant(second, approvalVerdict())).toBeUndefined();
  });

  it("refuses a grant window above the configured maximum", async () => {
    const service = await harness.service({ maxGrantMs: 60_000 });
    const held = hold(service, { timeoutMs: 200 });
    const id = await held.id;
    expect(await errorCode(() => service.approve(id, alice, { forMs: 120_000 }))).toBe("invalid_input");
    await held.outcome;
  });

  it("a revoked grant releases nothing", async () => {
    const service = await harness.service();
    const held = hold(service);
    const id = await held.id;
    const { grantId } = await service.approve(id, alice, { forMs: 60_000 });
    await held.outcome;
    await service.revokeGrant(grantId!, alice, "done");
    expect(await service.checkGrant(operation(), approvalVerdict())).toBeUndefined();
    expect(await errorCode(() => service.revokeGrant(grantId!, alice, "again"))).toBe(
      "grant_already_revoked",
    );
    expect(harness.kinds()).toContain("grant_revoked");
  });

  it("two revocations at the same moment: one wins, the other is refused, one record", async () => {
    const service = await harness.service();
    const held = hold(service);
    const id = await held.id;
    const { grantId } = await service.approve(id, alice, { forMs: 60_000 });
    await held.outcome;
    const results = await Promise.allSettled([
      service.revokeGrant(grantId!, alice, "first"),
      service.revokeGrant(grantId!, bob, "second"),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    expect(await errorCode(() => Promise.reject((results[1] as PromiseRejectedResult).reason))).toBe(
      "grant_already_revoked",
    );
    expect(harness.kinds().filter((kind) => kind === "grant_revoked")).toHaveLength(1);
  });

  it("a revocation that cannot be recorded is refused, and the grant stays live", async () => {
    const service = await harness.service();
    const held = hold(service);
    const id = await held.id;
    const { grantId } = await service.approve(id, alice, { forMs: 60_000 });
    await held.outcome;
    harness.auditFailure = new Error("record unavailable");
    expect(await errorCode(() => service.revokeGrant(grantId!, alice, "done"))).toBe("store_unavailable");
    harness.auditFailure = undefined;
    expect((await service.getGrant(grantId!))?.revokedAt).toBeNull();
    expect((await service.checkGrant(operation(), approvalVerdict()))?.grantId).toBe(grantId);
  });

  it("quorum approvers giving different windows grant the shortest", async () => {
    const service = await harness.service();
    const held = hold(service, { quorum: 2 });
    const id = await held.id;
    await service.approve(id, alice, { forMs: 600_000 });
    const { grantId } = await service.approve(id, bob, { forMs: 60_000 });
    await held.outcome;
    const grant = (await service.getGrant(grantId!))!;
    expect(grant.expiresAt - grant.createdAt).toBe(60_000);
  });
});

describe("restart", () => {
  it("a new service over the same file sees pending requests: held ones abandoned, deferred ones still pending", async () => {
    const store = harness.openStore();
    const before = await harness.service({}, store);
    const held = hold(before, { timeoutMs: 60_000 });
    const heldId = await held.id;
    const deferred = await before.requestApproval({
      operation: operation([updateStatement("DELETE FROM orders WHERE id = 3")]),
      verdict: approvalVerdict(),
      mode: "defer",
      timeoutMs: 60_000,
      signal: new AbortController().signal,
    });
    // The old process dies: no timer, no abort reaches the store any more.
    store.close();
    await before.close();

    const after = await harness.service();
    expect(await after.getRequest(heldId)).toMatchObject({
      state: "abandoned",
      decisionReason: expect.stringMatching(/restarted/),
    });
    expect((await after.getRequest(deferred.requestId))?.state).toBe("pending");
    expect(await errorCode(() => after.approve(heldId, alice, {}))).toBe("request_not_pending");
    await after.approve(deferred.requestId, alice, {});
    expect(
      (
        await after.checkGrant(
          operation([updateStatement("DELETE FROM orders WHERE id = 3")]),
          approvalVerdict(),
        )
      )?.requestId,
    ).toBe(deferred.requestId);
    // The recovery is on the record before the new service serves.
    expect(harness.kinds().filter((kind) => kind === "approval_decided").length).toBeGreaterThanOrEqual(1);
  });

  it("the sweeper expires deferred requests nobody decided", async () => {
    const service = await harness.service();
    const { requestId } = await service.requestApproval({
      operation: operation(),
      verdict: approvalVerdict(),
      mode: "defer",
      timeoutMs: 80,
      signal: new AbortController().signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await service.getRequest(requestId))?.state).toBe("expired");
  });
});
