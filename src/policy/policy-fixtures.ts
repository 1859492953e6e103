import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { formatIssues } from "../config/load-config.js";
import { LatchError } from "../errors.js";
import type { Decision } from "../operation/operation.js";
import type { StatementClassifier } from "../sql/classification.js";
import type { PolicyEngine } from "./policy-engine.js";

/**
 * Policy test fixtures (`latch policy test FILE`): who runs what SQL on which connection, and what the
 * policy must decide. The SQL goes through the same classifier the gateway uses, so a fixture tests the
 * policies exactly as a client would meet them.
 */

const caseSchema = z
  .object({
    name: z.string().min(1),
    principal: z.string().min(1).describe('token subject: User::"<principal>"'),
    groups: z.array(z.string().min(1)).default([]),
    connection: z.string().min(1),
    labels: z.record(z.string(), z.string()).default({}),
    sql: z.string().min(1),
    expect: z.enum(["allow", "deny", "approval"]),
    at: z.iso.datetime({ offset: true }).optional().describe("ISO time the statement runs at; default: now"),
    client_ip: z.string().default("127.0.0.1"),
    issuer: z.string().default("https://latch.invalid/policy-test"),
    preview_rows: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "rows the rolled-back preview changes, when a @preview policy asks for one (context.preview.rows)",
      ),
  })
  .strict();

const fileSchema = z.object({ cases: z.array(caseSchema).min(1) }).strict();

export type PolicyTestCase = z.infer<typeof caseSchema>;

export interface PolicyTestResult {
  readonly testCase: PolicyTestCase;
  readonly passed: boolean;
  readonly actual: Decision;
  readonly reason: string;
}

/** Parses and checks a fixture file; throws LatchError config_invalid naming every bad key. */
export function parsePolicyTests(text: string, file: string): PolicyTestCase[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    throw new LatchError("config_invalid", {
      detail: `${file} is not valid YAML: ${(cause as Error).message}`,
    });
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    throw new LatchError("config_invalid", { detail: formatIssues(file, result.error.issues) });
  }
  return result.data.cases;
}

/**
 * Classifies and authorizes every case. SQL the classifier refuses counts as "deny", as it would be at
 * the gateway. `now` is the time for cases without `at`.
 */
export function runPolicyTests(
  cases: readonly PolicyTestCase[],
  engine: PolicyEngine,
  classifier: StatementClassifier,
  now: Date = new Date(),
): PolicyTestResult[] {
  return cases.map((testCase) => {
    const classification = classifier.classify(testCase.sql);
    if (!classification.ok) {
      const reason = `the statement was refused before policy (${classification.failure}): ${classification.reason}`;
      return { testCase, passed: testCase.expect === "deny", actual: "deny", reason };
    }
    const request = {
      identity: {
        subject: testCase.principal,
        issuer: testCase.issuer,
        groups: testCase.groups,
        expiresAt: Number.MAX_SAFE_INTEGER,
      },
      connection: testCase.connection,
      connectionLabels: testCase.labels,
      steps: classification.statements.map((statement) => statement.step),
      clientAddress: testCase.client_ip,
      now: testCase.at === undefined ? now : new Date(testCase.at),
    };
    const first = engine.authorize(request);
    // As the gateway decides (pipeline/preview-stage.ts): a forbid stands, a @preview scope decides again.
    const previewed =
      testCase.preview_rows !== undefined &&
      !(first.decision === "deny" && first.rules.length > 0) &&
      engine.wantsPreview?.(request) === true;
    const verdict = previewed
      ? engine.authorize({ ...request, preview: { rows: testCase.preview_rows! } })
      : first;
    return {
      testCase,
      passed: verdict.decision === testCase.expect,
      actual: verdict.decision,
      reason: verdict.reason,
    };
  });
}

/** "PASS  name" or "FAIL  name: expected deny, got allow (reason)". */
export function formatPolicyTestResult(result: PolicyTestResult): string {
  const { testCase } = result;
  if (result.passed) return `PASS  ${testCase.name}`;
  return `FAIL  ${testCase.name}: expected ${testCase.expect}, got ${result.actual} (${result.reason})`;
}
