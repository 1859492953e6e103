import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import type { Identity } from "../../src/identity/identity.js";
import { DecisionCache } from "../../src/policy/decision-cache.js";
import { ACTIONS } from "../../src/policy/policy-actions.js";
import type { AuthorizationRequest } from "../../src/policy/policy-engine.js";
import type { Access } from "../../src/sql/classification.js";
import {
  engineFor,
  identity,
  onConnection,
  onFunction,
  onTable,
  request,
  statement,
} from "./policy-test-helpers.js";

// The real Cedar, wrapped so a test can count evaluations (the cache's whole point is to skip them).
vi.mock("@cedar-policy/cedar-wasm/nodejs", async (importOriginal) => {
  const real = await importOriginal<typeof import("@cedar-policy/cedar-wasm/nodejs")>();
  return { ...real, statefulIsAuthorized: vi.fn(real.statefulIsAuthorized) };
});
const cedarEvaluations = vi.mocked(cedar.statefulIsAuthorized);

describe("DecisionCache", () => {
  it("evicts the least recently used entry", () => {
    const cache = new DecisionCache<number>(2);
    cache.set("a", 1);
    cache.set("b", 2);
    expect(cache.get("a")).toBe(1); // "b" is now the oldest
    cache.set("c", 3);
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBe(1);
    expect(cache.get("c")).toBe(3);
    expect(cache.size).toBe(2);
  });

  it("keeps nothing with size 0 and refuses nonsense sizes", () => {
    const cache = new DecisionCache<number>(0);
    cache.set("a", 1);
    expect(cache.get("a")).toBeUndefined();
    expect(() => new DecisionCache(-1)).toThrow(RangeError);
    expect(() => new DecisionCache(1.5)).toThrow(RangeError);
  });
});

// Policies that look at every input the cache key must capture: subject, issuer, groups, connection,
// labels, client IP, each time field, each statement fact, action groups, tables, functions, approvals.
const SWEEP_POLICIES = `
  permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"demo");
  permit(principal == User::"carol", action, resource) when { principal.issuer == "https://issuer.test" };
  @approval("dba") permit(principal in Group::"agents", action in Action::"sql:write", resource)
    when { context.time.weekday <= 5 && context.statement.has_where };
  @approval("security") @quorum("2") permit(principal, action == Action::"sql:ddl", resource)
    when { context.time.hour >= 9 && context.time.hour < 17 };
  permit(principal in Group::"dba", action, resource) when { context.client_ip.isInRange(ip("10.0.0.0/8")) };
  permit(principal, action == Action::"sql:session", resource) when { context.time.minute < 30 };
  permit(principal, action == Action::"sql:function", resource in Connection::"demo")
    unless { resource == Function::"demo/public.evil" };
  forbid(principal, action, resource == Table::"prod/public.payments");
  forbid(principal, action, resource) when { context.connection_labels.contains("frozen=yes") };
  forbid(principal in Group::"agents", action, resource)
    when { context.statement.statement_count > 2 || context.statement.table_count > 2 || context.time.date == "2025-01-09" };
  forbid(principal, action == Action::"sql:select", resource) when { !context.statement.read_only && context.statement.verb == "sql:select" };
`;

const subjects = ["ci-bot", "carol", "dave", "agents"];
const identities: Identity[] = subjects.flatMap((subject) => [
  identity(subject, ["agents"]),
  identity(subject, ["dba"]),
  identity(subject, []),
  { ...identity(subject, ["agents", "dba"]), issuer: "https://other.test" },
]);
const labelSets: Record<string, string>[] = [{}, { env: "dev" }, { env: "prod", frozen: "yes" }];
const accessArb: fc.Arbitrary<Access> = fc.oneof(
  fc
    .tuple(
      fc.constantFrom(...Object.keys(ACTIONS), "sql:bogus"),
      fc.constantFrom("public.users", "public.payments", "a.b"),
    )
    .map(([action, table]) => onTable(action, table)),
  fc.constantFrom(...Object.keys(ACTIONS)).map((action) => onConnection(action)),
  fc.constantFrom("public.evil", "public.fine").map((name) => onFunction("sql:function", name)),
);
const statementArb = fc
  .record({
    accesses: fc.array(accessArb, { minLength: 1, maxLength: 3 }),
    hasWhere: fc.boolean(),
    readOnly: fc.boolean(),
  })
  .map(({ accesses, hasWhere, readOnly }) => statement(accesses, { hasWhere, readOnly }));
const requestArb: fc.Arbitrary<AuthorizationRequest> = fc
  .record({
    who: fc.constantFrom(...identities),
    copyIdentity: fc.boolean(),
    connection: fc.constantFrom("demo", "prod"),
    labels: fc.constantFrom(...labelSets),
    statements: fc.array(statementArb, { minLength: 1, maxLength: 3 }),
    clientAddress: fc.constantFrom(
      "10.1.1.1",
      "::ffff:10.2.2.2",
      "192.168.0.9",
      "unix",
      "10.1.1.1:50000",
      "10.1.1.1:50001",
      "::ffff:192.168.0.9:6000",
      "fd00::7:5432",
    ),
    // 2025-01-06 (Monday) .. 2025-01-12 (Sunday), any minute.
    minute: fc.integer({ min: 0, max: 7 * 24 * 60 - 1 }),
  })
  .map(({ who, copyIdentity, connection, labels, statements, clientAddress, minute }) =>
    request(copyIdentity ? { ...who, groups: [...who.groups] } : who, connection, statements, {
      connectionLabels: labels,
      clientAddress,
      now: new Date(Date.UTC(2025, 0, 6) + minute * 60_000 + 17_000),
    }),
  );

describe("cached engine", () => {
  it("returns the same verdicts as an uncached engine for any sequence of requests", () => {
    // A tiny cache so evictions happen; the uncached engine is the oracle.
    const cached = engineFor(SWEEP_POLICIES, { cacheSize: 8 });
    const large = engineFor(SWEEP_POLICIES, { cacheSize: 10_000 });
    const uncached = engineFor(SWEEP_POLICIES, { cacheSize: 0 });
    let decisions = new Set<string>();
    const compare = (requests: readonly AuthorizationRequest[]) => {
      // Repeat the sequence so the second pass is served from the caches.
      for (const item of [...requests, ...requests]) {
        const expected = uncached.authorize(item);
        decisions.add(expected.decision);
        expect(cached.authorize(item)).toEqual(expected);
        expect(large.authorize(item)).toEqual(expected);
      }
    };
    fc.assert(fc.property(fc.array(requestArb, { minLength: 1, maxLength: 12 }), compare), {
      numRuns: 200,
      seed: 20250108,
    });
    // One request of each kind as well, so the sweep meets every decision whatever the random draws are (a new
    // action in the catalogue shifts them).
    const agent = identity("ci-bot", ["agents"]);
    compare([
      request(agent, "demo", [statement([onTable("sql:select", "public.users")])]),
      request(agent, "demo", [statement([onTable("sql:update", "public.users")], { hasWhere: true })]),
      request(agent, "prod", [statement([onTable("sql:select", "public.payments")])]),
    ]);
    // The sweep is only meaningful if it met every kind of decision.
    expect([...decisions].sort()).toEqual(["allow", "approval", "deny"]);
    decisions = new Set();
  });

  it("keys only on the time fields policies mention, and still tells minutes apart when they do", () => {
    const hourOnly = engineFor(`permit(principal, action, resource) when { context.time.hour == 10 };`);
    const byMinute = engineFor(`permit(principal, action, resource) when { context.time.minute == 5 };`);
    const who = identity("ci-bot");
    const at = (iso: string) =>
      request(who, "demo", [statement([onConnection("sql:session")])], { now: new Date(iso) });
    expect(hourOnly.authorize(at("2025-01-07T10:05:00Z")).decision).toBe("allow");
    expect(hourOnly.authorize(at("2025-01-07T10:06:00Z")).decision).toBe("allow");
    expect(hourOnly.authorize(at("2025-01-07T11:05:00Z")).decision).toBe("deny");
    expect(byMinute.authorize(at("2025-01-07T10:05:00Z")).decision).toBe("allow");
    expect(byMinute.authorize(at("2025-01-07T10:06:00Z")).decision).toBe("deny");
    expect(byMinute.authorize(at("2025-01-08T11:05:30Z")).decision).toBe("allow");
  });

  it("answers a repeated request from the cache without asking Cedar again", () => {
    const policies = `
      permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"demo")
        when { context.time.weekday <= 5 };
      forbid(principal, action, resource == Table::"demo/public.payments");
    `;
    const cached = engineFor(policies);
    const uncached = engineFor(policies, { cacheSize: 0 });
    const item = request(
      identity("ci-bot", ["agents"]),
      "demo",
      [statement([onTable("sql:select", "public.users"), onTable("sql:select", "public.orders")])],
      {
        connectionLabels: { env: "dev", team: "data" },
      },
    );
    // Counted, not timed: how many Cedar evaluations 100 authorizations of the same request cost.
    const evaluationsFor = (engine: typeof cached) => {
      cedarEvaluations.mockClear();
      const verdicts = Array.from({ length: 100 }, () => engine.authorize(item));
      return { evaluations: cedarEvaluations.mock.calls.length, verdicts };
    };
    const cold = evaluationsFor(uncached);
    const warm = evaluationsFor(cached);
    expect(cold.evaluations).toBe(200); // two accesses, every time
    expect(warm.evaluations).toBe(2); // two accesses, once
    expect(warm.verdicts).toEqual(cold.verdicts);
    expect(warm.verdicts[0]!.decision).toBe("allow");
    // A different request is a miss: Cedar is asked again.
    cedarEvaluations.mockClear();
    cached.authorize(
      request(identity("ci-bot", ["agents"]), "demo", [statement([onTable("sql:select", "public.items")])]),
    );
    expect(cedarEvaluations.mock.calls.length).toBe(1);
  });
});
