import { describe, expect } from "vitest";
import type { NewApprovalRequest, VoteEffect } from "../../../src/approvals/approval-store.js";
import type { ApprovalVote, Grant } from "../../../src/approvals/approval-types.js";
import type { Stores } from "../../../src/store/stores.js";
import { conformanceCases, type StoreImplementation } from "./conformance-harness.js";

const T0 = 1_700_000_000_000;
let counter = 0;

function request(overrides: Partial<NewApprovalRequest> = {}): NewApprovalRequest {
  counter += 1;
  return {
    id: `req_${counter}`,
    mode: "hold",
    state: "pending",
    binding: "b".repeat(64),
    sessionId: "session-1",
    operationId: `op-${counter}`,
    connection: "prod",
    requester: "agent-1",
    requesterIssuer: "latch-dev",
    requesterGroups: ["agents"],
    statements: ["UPDATE orders SET total = $1 WHERE id = $2"],
    parameters: [["10", null]],
    accesses: ["sql:update Table:public.orders"],
    group: "dba",
    quorum: 1,
    rules: ["policies/prod.cedar#0"],
    reason: "update needs approval by dba",
    requestedForMs: null,
    createdAt: T0,
    expiresAt: T0 + 60_000,
    decidedAt: null,
    decisionReason: null,
    consumedAt: null,
    grantId: null,
    ...overrides,
  };
}

function vote(approver: string, overrides: Partial<ApprovalVote> = {}): ApprovalVote {
  return { approver, approverIssuer: "latch-dev", vote: "approve", reason: "", at: T0 + 1_000, ...overrides };
}

function grant(overrides: Partial<Grant> = {}): Grant {
  counter += 1;
  return {
    id: `grt_${counter}`,
    requestId: "req_for_grant",
    principal: "agent-1",
    connection: "prod",
    accesses: ["sql:update Table:public.orders"],
    group: "dba",
    quorum: 1,
    usesLeft: null,
    createdAt: T0,
    expiresAt: T0 + 600_000,
    revokedAt: null,
    revokedBy: null,
    revokeReason: null,
    ...overrides,
  };
}

/** Grants belong to a request: stores the request first when it is not there yet. */
async function insertGrants(stores: Stores, ...grants: Grant[]): Promise<void> {
  for (const g of grants) {
    if ((await stores.approvals.getRequest(g.requestId)) === undefined)
      await stores.approvals.insertRequest(request({ id: g.requestId, state: "approved" }));
    await stores.approvals.insertGrant(g);
  }
}

const approved = (votesBefore: number, extra: Partial<VoteEffect> = {}): VoteEffect => ({
  votesBefore,
  state: "approved",
  decidedAt: T0 + 1_000,
  decisionReason: "approved by alice",
  ...extra,
});

export function describeApprovalsConformance(implementation: StoreImplementation): void {
  const test = conformanceCases(implementation);

  describe("approvals: requests", () => {
    test("stores a request and reads it back field for field, with no votes", async ({ stores }) => {
      const created = request({ mode: "upfront", requestedForMs: 1_800_000, parameters: null });
      await stores.approvals.insertRequest(created);
      expect(await stores.approvals.getRequest(created.id)).toEqual({ ...created, votes: [] });
      const withParameters = request();
      await stores.approvals.insertRequest(withParameters);
      expect((await stores.approvals.getRequest(withParameters.id))?.parameters).toEqual([["10", null]]);
      expect(await stores.approvals.getRequest("req_nope")).toBeUndefined();
    });

    test("keeps a request's preview as it was stored", async ({ stores }) => {
      const preview = {
        status: "ran" as const,
        rows: 3,
        tagRows: 3,
        commandTag: "UPDATE 3",
        tables: [{ table: "public.orders", inserted: 0, updated: 3, deleted: 0 }],
        plan: "Update on orders\n  ->  Seq Scan on orders",
        sample: { columns: ["id", "total"], rows: [["1", null]], truncated: true },
        durationMs: 4,
        at: T0,
        notes: ["a note"],
      };
      const previewed = request({ preview });
      await stores.approvals.insertRequest(previewed);
      expect((await stores.approvals.getRequest(previewed.id))?.preview).toEqual(preview);
      const refused = request({ preview: { status: "refused", reason: "it calls nextval()", at: T0 } });
      await stores.approvals.insertRequest(refused);
      expect((await stores.approvals.getRequest(refused.id))?.preview).toEqual(refused.preview);
    });

    test("keeps the requester's delegation chain, current actor first", async ({ stores }) => {
      const actors = [{ subject: "subagent-2", issuer: "https://idp.example" }, { subject: "orchestrator" }];
      const delegated = request({ actors });
      await stores.approvals.insertRequest(delegated);
      expect((await stores.approvals.getRequest(delegated.id))?.actors).toEqual(actors);
      const [listed] = await stores.approvals.listRequests({ limit: 1 });
      expect(listed?.actors).toEqual(actors);
    });

    test("refuses a second request with the same id", async ({ stores }) => {
      const created = request();
      await stores.approvals.insertRequest(created);
      await expect(stores.approvals.insertRequest(created)).rejects.toThrow();
    });

    test("lists newest first, by state, at most `limit`", async ({ stores }) => {
      const a = request({ createdAt: T0 });
      const b = request({ createdAt: T0 + 1 });
      const c = request({ createdAt: T0 + 2, state: "denied" });
      for (const r of [a, b, c]) await stores.approvals.insertRequest(r);
      const ids = async (filter?: Parameters<Stores["approvals"]["listRequests"]>[0]) =>
        (await stores.approvals.listRequests(filter)).map((r) => r.id);
      expect(await ids()).toEqual([c.id, b.id, a.id]);
      expect(await ids({ state: "pending" })).toEqual([b.id, a.id]);
      expect(await ids({ state: "denied" })).toEqual([c.id]);
      expect(await ids({ limit: 1 })).toEqual([c.id]);
    });

    test("finds the pending request of a binding, and releasable approved defer requests", async ({
      stores,
    }) => {
      const binding = "d".repeat(64);
      const pending = request({ mode: "defer", binding });
      await stores.approvals.insertRequest(pending);
      expect((await stores.approvals.findPendingByBinding(binding))?.id).toBe(pending.id);
      expect(await stores.approvals.findPendingByBinding("e".repeat(64))).toBeUndefined();
      expect(await stores.approvals.findReleasable(binding, T0 + 2_000)).toEqual([]);

      expect(await stores.approvals.recordVote(pending.id, vote("alice"), approved(0))).toBe("recorded");
      expect(await stores.approvals.findPendingByBinding(binding)).toBeUndefined();
      // Released within the window (as long as the request's own lifetime) after the decision.
      expect((await stores.approvals.findReleasable(binding, T0 + 2_000)).map((r) => r.id)).toEqual([
        pending.id,
      ]);
      expect(await stores.approvals.findReleasable(binding, T0 + 1_000 + 60_000)).toEqual([]);
      // Only defer requests are released this way.
      const held = request({ mode: "hold", binding: "f".repeat(64) });
      await stores.approvals.insertRequest(held);
      await stores.approvals.recordVote(held.id, vote("alice"), approved(0));
      expect(await stores.approvals.findReleasable("f".repeat(64), T0 + 2_000)).toEqual([]);
    });

    test("consumes a one-time approval once, even when several statements race for it", async ({
      stores,
    }) => {
      const deferred = request({ mode: "defer" });
      await stores.approvals.insertRequest(deferred);
      expect(await stores.approvals.consumeRequest(deferred.id, T0 + 2_000)).toBe(false); // not approved yet
      await stores.approvals.recordVote(deferred.id, vote("alice"), approved(0));
      const wins = await Promise.all(
        [1, 2, 3, 4].map(() => stores.approvals.consumeRequest(deferred.id, T0 + 2_000)),
      );
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect((await stores.approvals.getRequest(deferred.id))?.consumedAt).toBe(T0 + 2_000);
      expect(await stores.approvals.findReleasable(deferred.binding, T0 + 3_000)).toEqual([]);
    });

    test("finishes only a pending request (expired or abandoned), once", async ({ stores }) => {
      const a = request();
      await stores.approvals.insertRequest(a);
      expect(await stores.approvals.finishRequest(a.id, "expired", T0 + 5, "too late")).toBe(true);
      expect(await stores.approvals.finishRequest(a.id, "abandoned", T0 + 6, "gone")).toBe(false);
      expect(await stores.approvals.getRequest(a.id)).toMatchObject({
        state: "expired",
        decidedAt: T0 + 5,
        decisionReason: "too late",
      });
      expect(await stores.approvals.finishRequest("req_nope", "expired", T0, "x")).toBe(false);
    });
  });

  describe("approvals: votes", () => {
    test("records a vote with its effect atomically: state, decision, grant", async ({ stores }) => {
      const r = request({ quorum: 2 });
      await stores.approvals.insertRequest(r);
      const first = vote("alice", { reason: "ok", grantForMs: 60_000 });
      expect(await stores.approvals.recordVote(r.id, first, { votesBefore: 0, state: "pending" })).toBe(
        "recorded",
      );
      expect(await stores.approvals.getRequest(r.id)).toMatchObject({ state: "pending", votes: [first] });

      const created = grant({ requestId: r.id, quorum: 2 });
      const second = vote("bob", { at: T0 + 2_000 });
      expect(
        await stores.approvals.recordVote(
          r.id,
          second,
          approved(1, { decidedAt: T0 + 2_000, decisionReason: "approved by alice, bob", grant: created }),
        ),
      ).toBe("recorded");
      const decided = (await stores.approvals.getRequest(r.id))!;
      expect(decided).toMatchObject({
        state: "approved",
        decidedAt: T0 + 2_000,
        decisionReason: "approved by alice, bob",
        grantId: created.id,
      });
      expect(decided.votes).toEqual([first, second]);
      expect(await stores.approvals.getGrant(created.id)).toEqual(created);
    });

    test("refuses a second vote by the same approver, a vote on a decided request, and a stale effect", async ({
      stores,
    }) => {
      const r = request({ quorum: 3 });
      await stores.approvals.insertRequest(r);
      expect(
        await stores.approvals.recordVote(r.id, vote("alice"), { votesBefore: 0, state: "pending" }),
      ).toBe("recorded");
      expect(
        await stores.approvals.recordVote(r.id, vote("alice", { at: T0 + 5 }), {
          votesBefore: 1,
          state: "pending",
        }),
      ).toBe("already_voted");
      // Computed when the request had no votes: another vote came first, so nothing is written.
      expect(await stores.approvals.recordVote(r.id, vote("bob"), { votesBefore: 0, state: "pending" })).toBe(
        "changed",
      );
      expect((await stores.approvals.getRequest(r.id))?.votes.map((v) => v.approver)).toEqual(["alice"]);
      expect(
        await stores.approvals.recordVote(r.id, vote("carol", { vote: "deny", reason: "no" }), {
          votesBefore: 1,
          state: "denied",
          decisionReason: "denied by carol: no",
        }),
      ).toBe("recorded");
      expect(await stores.approvals.recordVote(r.id, vote("dave"), approved(2))).toBe("not_pending");
      expect(await stores.approvals.recordVote("req_nope", vote("dave"), approved(0))).toBe("not_pending");
      expect(await stores.approvals.getRequest(r.id)).toMatchObject({
        state: "denied",
        decisionReason: "denied by carol: no",
        grantId: null,
      });
    });

    test("two votes racing with the same view of the request: exactly one is recorded", async ({
      stores,
    }) => {
      const r = request({ quorum: 2 });
      await stores.approvals.insertRequest(r);
      const results = await Promise.all([
        stores.approvals.recordVote(r.id, vote("alice"), { votesBefore: 0, state: "pending" }),
        stores.approvals.recordVote(r.id, vote("bob"), { votesBefore: 0, state: "pending" }),
      ]);
      expect(results.sort()).toEqual(["changed", "recorded"]);
      expect((await stores.approvals.getRequest(r.id))?.votes).toHaveLength(1);
    });
  });

  describe("approvals: grants", () => {
    test("stores a grant and reads it back; lists newest first, live ones, by principal", async ({
      stores,
    }) => {
      const older = grant({ createdAt: T0 });
      const newer = grant({ createdAt: T0 + 1, principal: "agent-2" });
      const revoked = grant({ createdAt: T0 + 2, revokedAt: T0 + 3, revokedBy: "alice", revokeReason: "x" });
      const expired = grant({ createdAt: T0 + 3, expiresAt: T0 + 10 });
      const usedUp = grant({ createdAt: T0 + 4, usesLeft: 0 });
      await insertGrants(stores, older, newer, revoked, expired, usedUp);
      expect(await stores.approvals.getGrant(older.id)).toEqual(older);
      expect(await stores.approvals.getGrant("grt_nope")).toBeUndefined();
      const ids = async (filter?: Parameters<Stores["approvals"]["listGrants"]>[0]) =>
        (await stores.approvals.listGrants(filter)).map((g) => g.id);
      expect(await ids()).toEqual([usedUp.id, expired.id, revoked.id, newer.id, older.id]);
      expect(await ids({ liveAt: T0 + 100 })).toEqual([newer.id, older.id]);
      expect(await ids({ principal: "agent-2" })).toEqual([newer.id]);
      expect(await ids({ limit: 2 })).toEqual([usedUp.id, expired.id]);
    });

    test("live grants are this principal's on this connection, unexpired, unrevoked, with uses left, soonest expiry first", async ({
      stores,
    }) => {
      const late = grant({ expiresAt: T0 + 900_000 });
      const soon = grant({ expiresAt: T0 + 100_000 });
      const otherPrincipal = grant({ principal: "agent-2" });
      const otherConnection = grant({ connection: "staging" });
      const usedUp = grant({ usesLeft: 0 });
      const revoked = grant({ revokedAt: T0 + 1, revokedBy: "alice", revokeReason: "x" });
      await insertGrants(stores, late, soon, otherPrincipal, otherConnection, usedUp, revoked);
      const live = async (now: number) =>
        (await stores.approvals.liveGrants("agent-1", "prod", now)).map((g) => g.id);
      expect(await live(T0 + 1_000)).toEqual([soon.id, late.id]);
      expect(await live(T0 + 100_000)).toEqual([late.id]); // expiresAt is exclusive
      expect(await live(T0 + 900_000)).toEqual([]);
    });

    test("uses a grant: unlimited stays, counted ones run out, racing uses never overspend", async ({
      stores,
    }) => {
      const unlimited = grant();
      const once = grant({ usesLeft: 1 });
      const twice = grant({ usesLeft: 2 });
      await insertGrants(stores, unlimited, once, twice);
      for (let i = 0; i < 3; i++) expect(await stores.approvals.useGrant(unlimited.id, T0 + 1)).toBe(true);
      expect((await stores.approvals.getGrant(unlimited.id))?.usesLeft).toBeNull();
      const raced = await Promise.all([1, 2, 3, 4].map(() => stores.approvals.useGrant(once.id, T0 + 1)));
      expect(raced.filter(Boolean)).toHaveLength(1);
      expect((await stores.approvals.getGrant(once.id))?.usesLeft).toBe(0);
      const racedTwice = await Promise.all([1, 2, 3].map(() => stores.approvals.useGrant(twice.id, T0 + 1)));
      expect(racedTwice.filter(Boolean)).toHaveLength(2);
      expect(await stores.approvals.useGrant(unlimited.id, unlimited.expiresAt)).toBe(false); // expired
      expect(await stores.approvals.useGrant("grt_nope", T0)).toBe(false);
    });

    test("revokes a grant once; a revoked grant is neither live nor usable", async ({ stores }) => {
      const g = grant();
      await insertGrants(stores, g);
      expect(await stores.approvals.revokeGrant(g.id, "alice", "done", T0 + 5)).toBe(true);
      expect(await stores.approvals.revokeGrant(g.id, "bob", "again", T0 + 6)).toBe(false);
      expect(await stores.approvals.getGrant(g.id)).toMatchObject({
        revokedAt: T0 + 5,
        revokedBy: "alice",
        revokeReason: "done",
      });
      expect(await stores.approvals.liveGrants("agent-1", "prod", T0 + 10)).toEqual([]);
      expect(await stores.approvals.useGrant(g.id, T0 + 10)).toBe(false);
      expect(await stores.approvals.revokeGrant("grt_nope", "alice", "x", T0)).toBe(false);
    });

    test("keeps requests, votes and grants across a restart", async (state) => {
      const r = request({ mode: "defer" });
      await state.stores.approvals.insertRequest(r);
      const g = grant({ requestId: r.id });
      await state.stores.approvals.recordVote(r.id, vote("alice"), approved(0, { grant: g }));
      const stores = await state.reopen();
      expect(await stores.approvals.getRequest(r.id)).toMatchObject({
        state: "approved",
        grantId: g.id,
        votes: [vote("alice")],
      });
      expect(await stores.approvals.getGrant(g.id)).toEqual(g);
    });
  });
}
