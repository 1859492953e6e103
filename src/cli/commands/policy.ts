import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../../config/load-config.js";
import { LatchError } from "../../errors.js";
import { createCedarPolicyEngine } from "../../policy/create-cedar-engine.js";
import { engineOptionsOf } from "../../policy/engine-options.js";
import {
  compilePolicySources,
  formatProblem,
  loadPolicies,
  readPolicySources,
} from "../../policy/load-policies.js";
import { formatPolicyTestResult, parsePolicyTests, runPolicyTests } from "../../policy/policy-fixtures.js";
import { type AdminClientOptions, withAdminOptions } from "../admin-client.js";
import { registerPolicyReplayCommand } from "./policy-replay.js";
import { registerPolicySuggestCommand } from "./policy-suggest.js";
import { adminSend } from "./requests.js";

/** Where command output goes; the CLI passes stdout/stderr, tests pass collectors. */
export interface CommandOutput {
  out(line: string): void;
  err(line: string): void;
}

export interface PolicyDirectoryOptions {
  readonly policies?: string;
  readonly config?: string;
}

const processOutput: CommandOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export function registerPolicyCommands(program: Command): void {
  const policy = program.command("policy").description("check and test the Cedar policies of a gateway");
  policy
    .command("check")
    .description("parse every *.cedar file and validate it against the Latch policy schema")
    .option("--policies <dir>", "policies directory (default: `policies` from the config)")
    .option("--config <file>", "config file (default: ./latch.yaml when present)")
    .action(async (options: PolicyDirectoryOptions) => {
      process.exitCode = await runPolicyCheck(options, processOutput);
    });
  policy
    .command("test")
    .description("run a YAML file of policy test cases (who, which SQL, expected allow|deny|approval)")
    .argument("<file>", "fixture file: cases: [{ name, principal, groups, connection, sql, expect, at? }]")
    .option("--policies <dir>", "policies directory (default: `policies` from the config)")
    .option("--config <file>", "config file (default: ./latch.yaml when present)")
    .action(async (file: string, options: PolicyDirectoryOptions) => {
      process.exitCode = await runPolicyTestFile(file, options, processOutput);
    });
  registerPolicyReplayCommand(policy, processOutput);
  registerPolicySuggestCommand(policy, processOutput);
  withAdminOptions(
    policy
      .command("reload")
      .description(
        "make a running gateway re-read its policies (like SIGHUP); live sessions whose recent statements the new policies deny are ended",
      ),
  ).action(async (options: AdminClientOptions & { json?: boolean }) => {
    const result = await adminSend<{ policies: number; sessionsEnded: number }>(
      options,
      "POST",
      "/api/policies/reload",
    );
    if (options.json) return void process.stdout.write(`${JSON.stringify(result)}\n`);
    process.stdout.write(
      `policies reloaded: ${result.policies} policies, ${result.sessionsEnded} live sessions ended\n`,
    );
  });
}

export function policiesDirectoryOf(options: PolicyDirectoryOptions): string {
  if (options.policies !== undefined) return path.resolve(options.policies);
  return loadConfig(options.config).config.policies;
}

/** Prints every policy id with OK, or every problem as file:line:column. Returns the exit code. */
export async function runPolicyCheck(
  options: PolicyDirectoryOptions,
  output: CommandOutput,
): Promise<number> {
  const dir = policiesDirectoryOf(options);
  const compiled = compilePolicySources(await readPolicySources(dir));
  for (const problem of compiled.problems) output.err(`error: ${formatProblem(problem)}`);
  if (compiled.problems.length > 0) {
    const count = compiled.problems.length;
    output.err(
      `${count} ${count === 1 ? "problem" : "problems"} in ${dir}: the gateway would refuse to start`,
    );
    return 1;
  }
  for (const policy of compiled.policies) {
    const where = `${path.relative(process.cwd(), policy.file) || policy.file}:${policy.line}`;
    const approval =
      policy.approval === undefined
        ? ""
        : `  (approval: ${policy.approval.group}, quorum ${policy.approval.quorum})`;
    output.out(`OK    ${policy.id}  ${policy.effect}  ${where}${approval}`);
  }
  for (const warning of compiled.warnings) output.err(`warning: ${formatProblem(warning)}`);
  if (compiled.policies.length === 0) {
    output.err(`warning: no policies in ${dir}: every statement will be denied (deny by default)`);
  }
  output.out(`${compiled.policies.length} policies in ${compiled.files.length} files: OK`);
  return 0;
}

/** Runs a fixture file against the policies; prints PASS/FAIL per case and a summary. Returns the exit code. */
export async function runPolicyTestFile(
  file: string,
  options: PolicyDirectoryOptions,
  output: CommandOutput,
): Promise<number> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new LatchError("config_invalid", { detail: `cannot read ${file}: ${(cause as Error).message}` });
  }
  const cases = parsePolicyTests(text, file);
  const fromConfig = options.policies === undefined || options.config !== undefined;
  const engine = createCedarPolicyEngine(
    await loadPolicies(policiesDirectoryOf(options)),
    fromConfig ? engineOptionsOf(loadConfig(options.config).config) : {},
  );
  // Imported here so the other commands start without loading the PostgreSQL parser.
  const { loadSqlParser, createStatementClassifier } = await import(
    "../../sql/postgres/create-classifier.js"
  );
  await loadSqlParser();
  const results = runPolicyTests(cases, engine, createStatementClassifier());
  for (const result of results) output.out(formatPolicyTestResult(result));
  const failed = results.filter((result) => !result.passed).length;
  output.out(`${results.length - failed} passed, ${failed} failed, ${results.length} cases`);
  return failed === 0 ? 0 : 1;
}
