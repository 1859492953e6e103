import { describe, expect, it } from "vitest";
import { compilePolicySources } from "../../src/policy/load-policies.js";
import { runPolicyTests } from "../../src/policy/policy-fixtures.js";
import { createStatementClassifier, loadSqlParser } from "../../src/sql/postgres/create-classifier.js";
import { engineFor, identity, onTable, request, statement } from "./policy-test-helpers.js";

/** @preview("true") and context.preview: what policy sees of a rolled-back preview (docs/approvals.md). */

const ciBot = identity("ci-bot", ["agents"]);
const updateOrders = statement([onTable("sql:update", "public.orders")], { readOnly: false });
const selectOrders = statement([onTable("sql:select", "public.orders")]);

const THRESHOLD = `
@id("small-updates")
permit (principal in Group::"agents", action == Action::"sql:update", resource in Connection::"prod")
when { context has preview && context.preview.rows <= 100 };
@id("reads")
permit (principal in Group::"agents", action == Action::"sql:select", resource in Connection::"prod");
@id("updates-need-dba")
@approval("dba")
@preview("true")
permit (principal in Group::"agents", action == Action::"sql:update", resource in Connection::"prod");
`;

const problems = (text: string) =>
  compilePolicySources([{ file: "a.cedar", text }]).problems.map((problem) => problem.message);

describe("@preview and context.preview", () => {
  it("accepts @preview on a permit, refuses other values and forbids", () => {
    expect(problems(`@preview("true") permit(principal, action, resource);`)).toEqual([]);
    expect(problems(`@preview("yes") permit(principal, action, resource);`)[0]).toContain(
      '@preview takes "true" or "false"',
    );
    expect(problems(`@preview("true") forbid(principal, action, resource);`)[0]).toContain(
      "@preview only makes sense on a permit",
    );
  });

  it("validates context.preview as optional: reading it needs `context has preview`", () => {
    expect(
      problems(
        `permit(principal, action, resource) when { context has preview && context.preview.rows > 5 };`,
      ),
    ).toEqual([]);
    expect(problems(`permit(principal, action, resource) when { context.preview.rows > 5 };`)).not.toEqual(
      [],
    );
    expect(problems(`permit(principal, action, resource) when { context.preview.rowz > 5 };`)).not.toEqual(
      [],
    );
  });

  it("wants a preview for a write a @preview permit's scope covers, whatever its conditions, never for reads", () => {
    const engine = engineFor(THRESHOLD);
    expect(engine.wantsPreview?.(request(ciBot, "prod", [updateOrders]))).toBe(true);
    expect(engine.wantsPreview?.(request(ciBot, "prod", [selectOrders]))).toBe(false);
    expect(engine.wantsPreview?.(request(ciBot, "staging", [updateOrders]))).toBe(false);
    expect(engine.wantsPreview?.(request(identity("eve", ["others"]), "prod", [updateOrders]))).toBe(false);
    expect(engineFor(`permit(principal, action, resource);`).wantsPreview).toBeUndefined();
  });

  it("decides on the preview's row count: small updates run, large ones need a dba", () => {
    const engine = engineFor(THRESHOLD);
    const ask = (rows?: number) =>
      engine.authorize(
        request(ciBot, "prod", [updateOrders], rows === undefined ? {} : { preview: { rows } }),
      );
    expect(ask(100)).toMatchObject({ decision: "allow", rules: ["small-updates"] });
    expect(ask(101)).toMatchObject({ decision: "approval", approval: { group: "dba", quorum: 1 } });
    // No preview (refused or failed): `context has preview` is false, the approval rule applies.
    expect(ask()).toMatchObject({ decision: "approval" });
    // Decisions on counts are not cached: the same statement with another count decides afresh.
    expect(ask(5).decision).toBe("allow");
    expect(ask(5000).decision).toBe("approval");
  });

  it("lets a forbid use the count too", () => {
    const engine = engineFor(`${THRESHOLD}
@id("no-huge-updates")
forbid (principal, action == Action::"sql:update", resource)
when { context has preview && context.preview.rows > 10000 };`);
    const verdict = engine.authorize(request(ciBot, "prod", [updateOrders], { preview: { rows: 20_000 } }));
    expect(verdict).toMatchObject({ decision: "deny", rules: ["no-huge-updates"] });
  });

  it("latch policy test cases can give the preview's row count", async () => {
    await loadSqlParser();
    const classifier = createStatementClassifier({ dangerousFunctions: [], safeFunctions: [] });
    const base = {
      principal: "ci-bot",
      groups: ["agents"],
      connection: "prod",
      labels: {},
      client_ip: "127.0.0.1",
      issuer: "i",
    };
    const sql = "UPDATE orders SET status = 'x' WHERE id < 50";
    const results = runPolicyTests(
      [
        { ...base, name: "small", sql, preview_rows: 49, expect: "allow" },
        { ...base, name: "large", sql, preview_rows: 500, expect: "approval" },
        { ...base, name: "no preview", sql, expect: "approval" },
      ],
      engineFor(THRESHOLD),
      classifier,
    );
    expect(results.map((result) => [result.testCase.name, result.actual, result.passed])).toEqual([
      ["small", "allow", true],
      ["large", "approval", true],
      ["no preview", "approval", true],
    ]);
  });
});
