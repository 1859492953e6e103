import { describe, expect, it } from "vitest";
import { LatchError } from "../../src/errors.js";
import type { OperationStep } from "../../src/operation/operation.js";
import {
  formatPolicyTestResult,
  parsePolicyTests,
  runPolicyTests,
} from "../../src/policy/policy-fixtures.js";
import type { ClassifiedStatement, StatementClassifier } from "../../src/sql/classification.js";
import { engineFor, onTable, statement } from "./policy-test-helpers.js";

/** Stands in for the SQL classifier: these tests are about fixtures, not SQL. */
function classifierOf(known: Record<string, readonly OperationStep[]>): StatementClassifier {
  // Only `step` is read by the fixtures runner: the rest of a classified statement is SQL detail.
  const asClassified = (step: OperationStep) => ({ step }) as unknown as ClassifiedStatement;
  return {
    classify: (text) =>
      text in known
        ? { ok: true, statements: known[text]!.map(asClassified) }
        : { ok: false, failure: "unparseable", reason: `syntax error in "${text}"` },
  };
}

const classifier = classifierOf({
  "select users": [statement([onTable("sql:select", "public.users")])],
  "delete users": [statement([onTable("sql:delete", "public.users")], { readOnly: false })],
});

const engine = engineFor(`
  permit(principal in Group::"agents", action == Action::"sql:select", resource in Connection::"demo");
  @approval("dba") permit(principal in Group::"agents", action == Action::"sql:delete", resource)
    when { context.time.weekday <= 5 && context.connection_labels.contains("env=prod") };
`);

describe("policy test fixtures", () => {
  it("parses cases with defaults", () => {
    const cases = parsePolicyTests(
      `cases:
  - { name: reads, principal: ci-bot, groups: [agents], connection: demo, sql: select users, expect: allow }
  - name: timed
    principal: ci-bot
    connection: prod
    labels: { env: prod }
    sql: delete users
    expect: approval
    at: "2025-01-07T10:00:00Z"
`,
      "cases.yaml",
    );
    expect(cases[0]).toMatchObject({ groups: ["agents"], labels: {}, client_ip: "127.0.0.1" });
    expect(cases[1]).toMatchObject({ groups: [], labels: { env: "prod" }, at: "2025-01-07T10:00:00Z" });
  });

  it("names every bad key in a fixture file", () => {
    const parse = (text: string) => {
      try {
        parsePolicyTests(text, "bad.yaml");
      } catch (error) {
        expect(error).toBeInstanceOf(LatchError);
        return (error as LatchError).message;
      }
      throw new Error("expected a LatchError");
    };
    const message = parse(`cases:
  - { name: a, principal: p, connection: c, sql: s, expect: maybe, at: yesterday, colour: red }
`);
    expect(message).toContain("bad.yaml");
    expect(message).toContain("cases.0.expect");
    expect(message).toContain("cases.0.at");
    expect(message).toContain("colour");
    expect(parse("cases: [")).toContain("not valid YAML");
    expect(parse("cases: []")).toContain("cases");
  });

  it("passes and fails cases by comparing the decision", () => {
    const cases = parsePolicyTests(
      `cases:
  - { name: agent reads, principal: ci-bot, groups: [agents], connection: demo, sql: select users, expect: allow }
  - { name: wrong guess, principal: ci-bot, groups: [agents], connection: other, sql: select users, expect: allow }
  - { name: weekday write, principal: ci-bot, groups: [agents], connection: prod, labels: { env: prod }, sql: delete users, expect: approval, at: "2025-01-07T10:00:00Z" }
  - { name: sunday write, principal: ci-bot, groups: [agents], connection: prod, labels: { env: prod }, sql: delete users, expect: deny, at: "2025-01-05T10:00:00Z" }
  - { name: garbage, principal: ci-bot, groups: [agents], connection: demo, sql: "selec 1", expect: deny }
`,
      "cases.yaml",
    );
    const results = runPolicyTests(cases, engine, classifier);
    expect(results.map((result) => [result.testCase.name, result.passed, result.actual])).toEqual([
      ["agent reads", true, "allow"],
      ["wrong guess", false, "deny"],
      ["weekday write", true, "approval"],
      ["sunday write", true, "deny"],
      ["garbage", true, "deny"],
    ]);
    expect(formatPolicyTestResult(results[0]!)).toBe("PASS  agent reads");
    expect(formatPolicyTestResult(results[1]!)).toBe(
      "FAIL  wrong guess: expected allow, got deny (sql:select on table public.users is not permitted for ci-bot (groups: agents) on connection other (no permit matched; deny by default))",
    );
    expect(results[4]?.reason).toContain('syntax error in "selec 1"');
  });

  it("uses the given now for cases without `at`", () => {
    const cases = parsePolicyTests(
      `cases: [{ name: w, principal: p, groups: [agents], connection: prod, labels: { env: prod }, sql: delete users, expect: approval }]`,
      "cases.yaml",
    );
    expect(runPolicyTests(cases, engine, classifier, new Date("2025-01-08T12:00:00Z"))[0]?.actual).toBe(
      "approval",
    );
    expect(runPolicyTests(cases, engine, classifier, new Date("2025-01-11T12:00:00Z"))[0]?.actual).toBe(
      "deny",
    );
  });
});
