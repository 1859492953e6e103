import { describe, expect, it } from "vitest";
import type { Identity } from "../../src/identity/identity.js";
import { parsePolicySources } from "../../src/policy/load-policies.js";
import { createPolicyReach } from "../../src/policy/policy-reach.js";

const reachOf = (text: string) => createPolicyReach(parsePolicySources([{ file: "t.cedar", text }]));
const who = (subject: string, groups: string[]): Identity => ({
  subject,
  issuer: "https://idp.test",
  groups,
  expiresAt: Date.now() + 60_000,
});
const agent = who("agent-1", ["agents"]);
const WRITES = ["sql:insert", "sql:update", "sql:delete"];

// PolicyReach backs read-only tool hints: a `false` must be a proof, so every scope that could let a write
// through must reach, whatever its conditions.
describe("createPolicyReach", () => {
  it("a permit on one table of the connection reaches, one on another connection does not", () => {
    const reach = reachOf(`
      permit(principal in Group::"agents", action == Action::"sql:update", resource == Table::"app/public.items");
      permit(principal in Group::"agents", action in Action::"sql:write", resource in Connection::"other");`);
    expect(reach({ identity: agent, connection: "app", actions: WRITES })).toBe(true);
    expect(reach({ identity: agent, connection: "app", actions: ["sql:delete"] })).toBe(false);
    expect(reach({ identity: agent, connection: "third", actions: WRITES })).toBe(false);
  });

  it("action groups, conditions and principals: a group permit reaches its members, a condition is taken as true", () => {
    const reach = reachOf(`
      permit(principal in Group::"agents", action in Action::"sql:write", resource) when { context.time.hour < 0 };`);
    expect(reach({ identity: agent, connection: "app", actions: ["sql:delete"] })).toBe(true);
    expect(reach({ identity: who("intern-1", ["interns"]), connection: "app", actions: WRITES })).toBe(false);
    expect(reach({ identity: agent, connection: "app", actions: ["sql:select"] })).toBe(false);
  });

  it("forbids never reach; users, `is` scopes and unconstrained scopes do", () => {
    const reach = reachOf(`
      forbid(principal, action, resource);
      permit(principal == User::"agent-1", action, resource is Table in Connection::"app");`);
    expect(reach({ identity: agent, connection: "app", actions: WRITES })).toBe(true);
    expect(reach({ identity: agent, connection: "db2", actions: WRITES })).toBe(false);
    expect(reach({ identity: who("agent-2", ["agents"]), connection: "app", actions: WRITES })).toBe(false);
    expect(reachOf("")({ identity: agent, connection: "app", actions: WRITES })).toBe(false);
  });
});
