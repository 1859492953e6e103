import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Identity } from "../../src/identity/identity.js";
import type { OperationStep } from "../../src/operation/operation.js";
import { DecisionCache } from "../../src/policy/decision-cache.js";
import type { AuthorizationRequest } from "../../src/policy/policy-engine.js";
import { engineFor, identity, onConnection, onTable, request, statement } from "./policy-test-helpers.js";

// The admission memo (src/policy/step-memo.ts): a repeated step object under the same request scope is answered
// without building decision-cache keys. A memo hit is observed as an authorization that asks the decision cache
// nothing; every test compares with an engine without the memo (same decision cache) as the oracle.

const cacheLookups = vi.spyOn(DecisionCache.prototype, "get");
afterEach(() => cacheLookups.mockClear());

const POLICIES = `
  permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"demo")
    when { context.time.minute < 30 && context.client_ip.isInRange(ip("10.0.0.0/8")) };
  @approval("dba") permit(principal in Group::"agents", action == Action::"sql:update", resource in Connection::"demo")
    when { context.statement.has_where && context.statement.statement_count == 1 };
  forbid(principal, action, resource == Table::"demo/public.payments");
  forbid(principal, action, resource) when { context.connection_labels.contains("frozen=yes") };
  forbid(principal, action, resource) when { context.statement.statement_count > 2 };
  permit(principal in Group::"agents", action == Action::"sql:session", resource)
    when { context.local_time.hour >= 9 && context.local_time.hour < 18 };
`;

const agent = identity("ci-bot", ["agents"]);
const selectUsers = statement([onTable("sql:select", "public.users")]);
const at = (iso: string) => new Date(iso);
// A session passes the same labels object with every operation (the caller memo compares it by identity).
const NO_LABELS = {};
const base = (extra: Partial<AuthorizationRequest> = {}) =>
  request(agent, "demo", [selectUsers], {
    connectionLabels: NO_LABELS,
    clientAddress: "10.1.2.3",
    now: at("2025-01-07T10:05:10Z"),
    ...extra,
  });

/** Authorizes and reports whether the answer came from the memo (no decision-cache lookup at all). */
function authorizeCounting(engine: ReturnType<typeof engineFor>, item: AuthorizationRequest) {
  cacheLookups.mockClear();
  const verdict = engine.authorize(item);
  return { verdict, memoHit: cacheLookups.mock.calls.length === 0 };
}

describe("admission memo", () => {
  it("answers a repeated step from the memo with the verdict a fresh evaluation gives", () => {
    const memo = engineFor(POLICIES);
    const fresh = engineFor(POLICIES, { stepMemo: false });
    const first = authorizeCounting(memo, base());
    expect(first.memoHit).toBe(false);
    expect(first.verdict.decision).toBe("allow");
    // Same step object, same identity object, later in the same minute: a new request, a new Date.
    const again = authorizeCounting(memo, base({ now: at("2025-01-07T10:05:50Z") }));
    expect(again.memoHit).toBe(true);
    expect(again.verdict).toEqual(fresh.authorize(base({ now: at("2025-01-07T10:05:50Z") })));
    // Refusals and approvals are remembered as well, with their wording.
    const payments = statement([onTable("sql:select", "public.payments")]);
    const update = statement([onTable("sql:update", "public.users")], { readOnly: false });
    for (const step of [payments, update]) {
      const cold = authorizeCounting(memo, base({ steps: [step] }));
      const warm = authorizeCounting(memo, base({ steps: [step] }));
      expect(cold.memoHit).toBe(false);
      expect(warm.memoHit).toBe(true);
      expect(warm.verdict).toEqual(fresh.authorize(base({ steps: [step] })));
    }
    expect(memo.authorize(base({ steps: [payments] })).decision).toBe("deny");
    expect(memo.authorize(base({ steps: [update] })).decision).toBe("approval");
  });

  it("misses for a different identity, connection, client, labels or step position", () => {
    const memo = engineFor(POLICIES);
    memo.authorize(base());
    const dave = identity("dave", []);
    const cases: [string, AuthorizationRequest, "allow" | "deny"][] = [
      ["the same subject in a new identity object", base({ identity: { ...agent } }), "allow"],
      ["another principal", base({ identity: dave }), "deny"],
      ["another connection", base({ connection: "prod" }), "deny"],
      ["another client address", base({ clientAddress: "192.168.0.9" }), "deny"],
      ["other labels", base({ connectionLabels: { frozen: "yes" } }), "deny"],
      ["the same step as one of three", base({ steps: [selectUsers, selectUsers, selectUsers] }), "deny"],
    ];
    for (const [what, item, decision] of cases) {
      memo.authorize(base()); // warm for the original scope
      expect(authorizeCounting(memo, base()).memoHit, what).toBe(true);
      const other = authorizeCounting(memo, item);
      expect(other.memoHit, what).toBe(false);
      expect(other.verdict.decision, what).toBe(decision);
    }
    // The same step alone and then first of two: statement_count differs, so the memo of the first cannot serve.
    const update = statement([onTable("sql:update", "public.users")], { readOnly: false });
    expect(memo.authorize(base({ steps: [update] })).decision).toBe("approval");
    const firstOfTwo = authorizeCounting(memo, base({ steps: [update, selectUsers] }));
    expect(firstOfTwo.memoHit).toBe(false);
    expect(firstOfTwo.verdict.decision).toBe("deny");
    // Back to the first caller: answered right again (its scope was rebuilt, not confused with another's).
    expect(memo.authorize(base()).decision).toBe("allow");
  });

  it("keeps one answer per session when sessions of one token share the identity and the step", () => {
    // Several connections with one token: one Identity object (the verifier's cache), one step object (the
    // classification cache), a client port each. Interleaved, every statement after the first of each session
    // is answered from the memo, and with the verdict a fresh evaluation gives that session.
    const memo = engineFor(POLICIES);
    const fresh = engineFor(POLICIES, { stepMemo: false });
    const sessions = ["10.1.2.3:40001", "10.1.2.3:40002", "10.9.9.9:40003", "192.168.0.9:40004"];
    for (const clientAddress of sessions)
      expect(authorizeCounting(memo, base({ clientAddress })).memoHit).toBe(false);
    for (let round = 0; round < 3; round++) {
      for (const clientAddress of sessions) {
        const warm = authorizeCounting(memo, base({ clientAddress }));
        expect(warm.memoHit, clientAddress).toBe(true);
        expect(warm.verdict).toEqual(fresh.authorize(base({ clientAddress })));
      }
    }
  });

  it("misses at every minute boundary, so context.time and context.local_time still change decisions", () => {
    const memo = engineFor(POLICIES, { timeZone: "Europe/Berlin" });
    const fresh = engineFor(POLICIES, { timeZone: "Europe/Berlin", stepMemo: false });
    // 10:29 allows (minute < 30), 10:30 denies: the same step object across the boundary.
    const before = base({ now: at("2025-01-07T10:29:59.999Z") });
    memo.authorize(before);
    expect(authorizeCounting(memo, before).verdict.decision).toBe("allow");
    const after = authorizeCounting(memo, base({ now: at("2025-01-07T10:30:00Z") }));
    expect(after.memoHit).toBe(false);
    expect(after.verdict.decision).toBe("deny");
    // local_time: 17:59 in Berlin is 16:59 UTC in winter; 18:00 closes the session permit.
    const session = statement([onConnection("sql:session")]);
    const open = base({ steps: [session], now: at("2025-01-07T16:59:30Z") });
    expect(memo.authorize(open).decision).toBe("allow");
    expect(authorizeCounting(memo, open).memoHit).toBe(true);
    const closed = base({ steps: [session], now: at("2025-01-07T17:00:00Z") });
    expect(memo.authorize(closed)).toEqual(fresh.authorize(closed));
    expect(memo.authorize(closed).decision).toBe("deny");
  });

  it("answers a literal variant (same accesses, action and facts, another text), never a step with other facts", () => {
    const memo = engineFor(POLICIES);
    const fresh = engineFor(POLICIES, { stepMemo: false });
    const update = statement([onTable("sql:update", "public.users")], { readOnly: false, hasWhere: true });
    expect(authorizeCounting(memo, base({ steps: [update] })).verdict.decision).toBe("approval");
    // What a classification cache hands out for `... WHERE id=8` after `... WHERE id=7`.
    const variant = { ...update, text: "UPDATE users SET a = 1 WHERE id = 8" };
    const hit = authorizeCounting(memo, base({ steps: [variant] }));
    expect(hit.memoHit).toBe(true);
    expect(hit.verdict).toEqual(fresh.authorize(base({ steps: [variant] })));
    // The same accesses array with other facts (no WHERE) or another action: decided afresh, and differently.
    const noWhere = { ...update, facts: { ...update.facts, hasWhere: false } };
    const other = authorizeCounting(memo, base({ steps: [noWhere] }));
    expect(other.memoHit).toBe(false);
    expect(other.verdict.decision).toBe("deny");
    const asSelect = { ...update, action: "sql:select" };
    expect(authorizeCounting(memo, base({ steps: [asSelect] })).memoHit).toBe(false);
    // Back to the first: its entry was replaced by the last miss, so it misses once and decides the same.
    expect(authorizeCounting(memo, base({ steps: [variant] })).verdict.decision).toBe("approval");
  });

  it("is dropped with the engine: a reloaded policy set decides the same step afresh", () => {
    const before = engineFor(POLICIES);
    expect(before.authorize(base()).decision).toBe("allow");
    expect(authorizeCounting(before, base()).memoHit).toBe(true);
    const reloaded = engineFor(
      `${POLICIES}\nforbid(principal, action, resource == Table::"demo/public.users");`,
    );
    const after = authorizeCounting(reloaded, base());
    expect(after.memoHit).toBe(false);
    expect(after.verdict.decision).toBe("deny");
  });

  it("never answers a preview's decision from the memo", () => {
    const engine = engineFor(`
      permit(principal, action == Action::"sql:update", resource) when { context has preview && context.preview.rows <= 10 };
    `);
    const update = statement([onTable("sql:update", "public.users")], { readOnly: false });
    const withRows = (rows: number) => base({ steps: [update], preview: { rows } });
    expect(engine.authorize(withRows(5)).decision).toBe("allow");
    expect(engine.authorize(withRows(50)).decision).toBe("deny");
    expect(engine.authorize(withRows(5)).decision).toBe("allow");
    expect(engine.authorize(base({ steps: [update] })).decision).toBe("deny");
  });

  it("gives the same verdicts as no memo for any sequence of requests over shared step objects", () => {
    const guarded = statement([onTable("sql:update", "public.users")], { readOnly: false, hasWhere: true });
    const steps: OperationStep[] = [
      selectUsers,
      statement([onTable("sql:select", "public.payments")]),
      guarded,
      // Sharing the accesses array (the memo's key): a literal variant, other facts, another action.
      { ...guarded, text: "UPDATE users SET a = 2 WHERE id = 9" },
      { ...guarded, facts: { ...guarded.facts, hasWhere: false } },
      { ...selectUsers, action: "sql:update", facts: { ...selectUsers.facts, readOnly: false } },
      statement([onTable("sql:update", "public.users")], { readOnly: false, hasWhere: false }),
      statement([onTable("sql:select", "public.users"), onTable("sql:select", "public.payments")]),
      statement([onConnection("sql:session")]),
      statement([onTable("sql:bogus", "public.users")]), // not in the vocabulary: an error, never remembered
    ];
    const identities: Identity[] = [agent, identity("ci-bot", []), identity("dave", ["agents"])];
    const requestArb = fc
      .record({
        who: fc.constantFrom(...identities),
        copyIdentity: fc.boolean(),
        connection: fc.constantFrom("demo", "prod"),
        labels: fc.constantFrom(NO_LABELS, { frozen: "yes" }, {}),
        picked: fc.array(fc.constantFrom(...steps), { minLength: 1, maxLength: 3 }),
        clientAddress: fc.constantFrom("10.1.1.1", "192.168.0.9"),
        // Monday 2025-01-06, a few minutes around 10:30 UTC (minute < 30) and 17:00 UTC (18:00 in Berlin), any
        // second: windows narrow enough that later requests share a scope with earlier ones, across boundaries.
        second: fc.oneof(
          fc.integer({ min: 10 * 3600 + 28 * 60, max: 10 * 3600 + 32 * 60 }),
          fc.integer({ min: 16 * 3600 + 58 * 60, max: 17 * 3600 + 2 * 60 }),
        ),
        preview: fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }),
      })
      .map(({ who, copyIdentity, connection, labels, picked, clientAddress, second, preview }) =>
        request(copyIdentity ? { ...who } : who, connection, picked, {
          connectionLabels: labels,
          clientAddress,
          now: new Date(Date.UTC(2025, 0, 6) + second * 1000),
          ...(preview === undefined ? {} : { preview: { rows: preview } }),
        }),
      );
    let hits = 0;
    let decisions = new Set<string>();
    // One pair of engines for every run, so memos and a small LRU carry over from run to run too.
    const memo = engineFor(POLICIES, { timeZone: "Europe/Berlin", cacheSize: 16 });
    const noMemo = engineFor(POLICIES, { timeZone: "Europe/Berlin", stepMemo: false });
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 16 }), (requests) => {
        // Each request twice in a row (the second is a memo candidate), the sequence then again in time order.
        for (const item of [...requests.flatMap((r) => [r, r]), ...requests]) {
          const expected = noMemo.authorize(item);
          decisions.add(expected.decision);
          const got = authorizeCounting(memo, item);
          if (got.memoHit) hits += 1;
          expect(got.verdict).toEqual(expected);
        }
      }),
      { numRuns: 150, seed: 20261201 },
    );
    // Only meaningful if the memo answered often and every kind of decision was met.
    expect(hits).toBeGreaterThan(100);
    expect([...decisions].sort()).toEqual(["allow", "approval", "deny"]);
    decisions = new Set();
  });
});
