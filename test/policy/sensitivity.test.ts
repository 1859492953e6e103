import { describe, expect, it } from "vitest";
import { configSchema } from "../../src/config/schema.js";
import { createCedarPolicyEngine } from "../../src/policy/create-cedar-engine.js";
import { engineOptionsOf } from "../../src/policy/engine-options.js";
import { parsePolicySources } from "../../src/policy/load-policies.js";
import { sensitivityFromConfig } from "../../src/policy/sensitivity.js";
import { identity, onTable, request, statement } from "./policy-test-helpers.js";

// Sensitivity labels from latch.yaml as Cedar sees them, and the decision cache staying right when two
// statements ask about the same access but touch tables of different sensitivity.
const config = configSchema.parse({
  connections: {
    prod: {
      type: "postgres",
      upstream: "postgres://app@127.0.0.1:5432/app",
      masking: ["pii"],
      sensitivity: { high: ["public.customers", "public.payments.card"], low: ["Orders"] },
    },
    other: { type: "postgres", upstream: "postgres://app@127.0.0.1:5432/other" },
  },
  masking: { pii: { columns: ["public.people.email", "staff.ssn"] } },
});

const POLICIES = `
permit (principal, action == Action::"sql:select", resource);
// Orders may not be joined with high-sensitivity data (the orders access alone decides: a stale cached
// allow for it would let the join through).
forbid (principal, action == Action::"sql:select", resource == Table::"prod/public.orders")
when { context.statement.sensitivity == "high" };
forbid (principal, action == Action::"sql:select", resource == Table::"prod/public.audit_log")
when { context.statement.sensitivity == "medium" };
forbid (principal, action == Action::"sql:update", resource)
when { context.statement.touches_masked };
forbid (principal, action == Action::"sql:delete", resource)
when { resource is Table && resource.sensitivity != "none" };
permit (principal, action in [Action::"sql:update", Action::"sql:delete"], resource);
`;

const engine = createCedarPolicyEngine(parsePolicySources([{ file: "s.cedar", text: POLICIES }]), {
  ...engineOptionsOf(config),
  cacheSize: 100,
});
const ana = identity("ana");
const decide = (connection: string, ...tables: string[][]) =>
  engine.authorize(
    request(
      ana,
      connection,
      tables.map(([action, ...names]) => statement(names.map((name) => onTable(action!, name)))),
    ),
  ).decision;

describe("sensitivity labels", () => {
  it("reads the config: tables, columns (their table counts at that level), masked columns as medium", () => {
    const prod = sensitivityFromConfig(config).get("prod")!;
    expect(prod.get("public.customers")).toEqual({ level: "high", masked: false });
    expect(prod.get("public.payments")).toEqual({ level: "high", masked: false });
    expect(prod.get("public.orders")).toEqual({ level: "low", masked: false });
    expect(prod.get("public.people")).toEqual({ level: "medium", masked: true });
    expect(prod.get("public.staff")).toEqual({ level: "medium", masked: true });
    expect(sensitivityFromConfig(config).get("other")).toBeUndefined();
  });

  it("context.statement.sensitivity is the highest of the statement's tables, and the cache keeps them apart", () => {
    expect(decide("prod", ["sql:select", "public.orders"])).toBe("allow");
    // The same access (select on orders) in a statement that also reads customers: high, forbidden.
    expect(decide("prod", ["sql:select", "public.orders", "public.customers"])).toBe("deny");
    expect(decide("prod", ["sql:select", "public.orders"])).toBe("allow");
    expect(decide("prod", ["sql:select", "public.customers"])).toBe("allow");
    expect(decide("prod", ["sql:select", "public.audit_log"])).toBe("allow");
    expect(decide("prod", ["sql:select", "public.audit_log", "public.people"])).toBe("deny"); // masked: medium
    expect(decide("prod", ["sql:select", "public.audit_log", "public.payments"])).toBe("allow"); // high, not medium
    // Labels are per connection: the same table name elsewhere is not labelled.
    expect(decide("other", ["sql:select", "public.customers"])).toBe("allow");
  });

  it("context.statement.touches_masked and resource.sensitivity", () => {
    expect(decide("prod", ["sql:update", "public.people"])).toBe("deny");
    expect(decide("prod", ["sql:update", "public.orders"])).toBe("allow");
    expect(decide("prod", ["sql:update", "public.orders", "public.staff"])).toBe("deny");
    expect(decide("prod", ["sql:delete", "public.orders"])).toBe("deny"); // low
    expect(decide("prod", ["sql:delete", "public.carts"])).toBe("allow"); // none
  });

  it("statement sensitivity is per statement: a high read in one statement does not taint the next", () => {
    expect(decide("prod", ["sql:update", "public.orders"], ["sql:update", "public.carts"])).toBe("allow");
    expect(decide("prod", ["sql:update", "public.carts"], ["sql:update", "public.people"])).toBe("deny");
  });
});
