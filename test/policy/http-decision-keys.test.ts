import { describe, expect, it } from "vitest";
import type { HttpStepFacts, OperationStep } from "../../src/operation/operation.js";
import { statementContextOf } from "../../src/policy/build-context.js";
import { statementKeyOf } from "../../src/policy/decision-keys.js";
import { engineFor, identity, request } from "./policy-test-helpers.js";

function httpStep(http: HttpStepFacts, method = "GET"): OperationStep {
  const action = `http:${method}`;
  return {
    text: `${method} ${http.path}`,
    action,
    accesses: [{ action, resource: { type: "Connection" } }],
    facts: { readOnly: method === "GET", hasWhere: true, tableCount: 0, command: "", http },
  };
}

const base: HttpStepFacts = {
  path: "/v1/items",
  query: { limit: "10", sort: "id" },
  headers: { "x-tenant": "acme" },
  bodyKind: "json",
  bodyKeys: ["amount", "currency"],
  bodyValues: { "/amount": "5" },
};

const keyOf = (http: HttpStepFacts) => statementKeyOf(statementContextOf(httpStep(http), 1));

describe("HTTP decision-cache keys", () => {
  it("equal facts give one key whatever order their names were inserted in", () => {
    const shuffled: HttpStepFacts = {
      ...base,
      query: { sort: "id", limit: "10" },
      bodyKeys: ["currency", "amount"],
      bodyValues: { "/amount": "5" },
    };
    expect(keyOf(shuffled)).toBe(keyOf(base));
    // The caller's array is not reordered in place.
    expect(shuffled.bodyKeys).toEqual(["currency", "amount"]);
  });

  it("any differing fact gives another key, also when a value spells the separators", () => {
    const variants: HttpStepFacts[] = [
      { ...base, path: "/v1/item" },
      { ...base, query: { limit: "100", sort: "id" } },
      { ...base, query: { limit: "10" } },
      { ...base, query: { "limit|2:id": "10" } },
      { ...base, query: { limit: "10|4:sort|2:id" } },
      { ...base, headers: {} },
      { ...base, headers: { "x-tenant": "acme", "x-other": "" } },
      { ...base, bodyKind: "other" },
      { ...base, bodyKeys: ["amount"] },
      { ...base, bodyKeys: ["amount", "currency", "note"] },
      { ...base, bodyValues: {} },
      { ...base, bodyValues: { "/amount": "50" } },
    ];
    const keys = new Set([keyOf(base), ...variants.map(keyOf)]);
    expect(keys.size).toBe(variants.length + 1);
  });

  it("a cached engine decides HTTP requests as the uncached one does, in any insertion order", () => {
    const policy = `
      permit(principal, action == Action::"http:GET", resource)
      when { context.query.hasTag("limit") && context.query.getTag("limit") == "10" && context.headers.hasTag("x-tenant") };
      permit(principal, action == Action::"http:POST", resource)
      when { context.body.keys.contains("amount") && context.body.values.hasTag("/amount") && context.body.values.getTag("/amount") == "5" };`;
    const cached = engineFor(policy);
    const oracle = engineFor(policy, { cacheSize: 0 });
    const caller = identity("agent-1", ["agents"]);
    const cases: [HttpStepFacts, string][] = [
      [base, "GET"],
      [{ ...base, query: { sort: "id", limit: "10" } }, "GET"],
      [{ ...base, query: { sort: "id", limit: "11" } }, "GET"],
      [{ ...base, headers: {} }, "GET"],
      [base, "POST"],
      [{ ...base, bodyKeys: ["currency", "amount"] }, "POST"],
      [{ ...base, bodyValues: { "/amount": "6" } }, "POST"],
      [{ ...base, bodyKeys: ["currency"] }, "POST"],
    ];
    const decisions: string[] = [];
    for (let round = 0; round < 2; round++) {
      for (const [http, method] of cases) {
        const asked = request(caller, "api", [httpStep(http, method)]);
        const decision = cached.authorize(asked).decision;
        expect(decision).toBe(oracle.authorize(asked).decision);
        if (round === 0) decisions.push(decision);
      }
    }
    expect(decisions).toEqual(["allow", "allow", "deny", "deny", "allow", "allow", "deny", "deny"]);
  });
});
