import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../../config/load-config.js";
import { compilePolicySources, formatProblem } from "../../policy/load-policies.js";
import { suggestPolicy } from "../../replay/suggest-policy.js";
import { openAuditReader } from "../../store/open-audit-reader.js";
import { type CommandOutput, timeOf } from "./policy-replay.js";

export interface PolicySuggestOptions {
  readonly principal: string;
  readonly since?: string;
  readonly until?: string;
  readonly connection?: string;
  readonly out?: string;
  readonly config?: string;
  readonly dataDir?: string;
}

export function registerPolicySuggestCommand(policy: Command, output: CommandOutput): void {
  policy
    .command("suggest")
    .description(
      "print a least-privilege Cedar policy that permits exactly what a principal did (from the audit record), for review",
    )
    .requiredOption("--principal <subject>", "the principal (token subject) whose operations to read")
    .option("--since <when>", "start of the window: a duration back from now (30d) or an ISO time", "30d")
    .option("--until <when>", "end of the window: a duration back from now or an ISO time (default: now)")
    .option("--connection <name>", "only operations on this connection")
    .option("--out <file>", "write the policy to this file instead of stdout")
    .option("--config <file>", "config file naming the store (default: ./latch.yaml when present)")
    .option("--data-dir <dir>", "read the store under this data_dir instead of the config's")
    .action(async (options: PolicySuggestOptions) => {
      process.exitCode = await runPolicySuggest(options, output);
    });
}

/** Prints (or writes) the suggestion; exits 1 when the principal did nothing in the window. */
export async function runPolicySuggest(
  options: PolicySuggestOptions,
  output: CommandOutput,
): Promise<number> {
  const overrides = options.dataDir === undefined ? {} : { data_dir: path.resolve(options.dataDir) };
  const { config } = loadConfig(options.config, overrides);
  const now = Date.now();
  const since = options.since === undefined ? undefined : timeOf(options.since, now, "--since");
  const until = options.until === undefined ? undefined : timeOf(options.until, now, "--until");
  const opened = openAuditReader(config);
  try {
    const suggestion = await suggestPolicy({
      reader: opened.reader,
      principal: options.principal,
      ...(since === undefined ? {} : { since }),
      ...(until === undefined ? {} : { until }),
      ...(options.connection === undefined ? {} : { connection: options.connection }),
    });
    if (suggestion.notReadable > 0) {
      output.err(
        `note: ${suggestion.notReadable} operations in the window were recorded without their policy input (older Latch) and are not read`,
      );
    }
    if (suggestion.operations === 0) {
      output.err(`no operation of ${options.principal} ran in the window: nothing to suggest`);
      return 1;
    }
    // What is printed must load: a suggestion that does not compile is a bug, never output.
    const compiled = compilePolicySources([{ file: "suggested.cedar", text: suggestion.text }]);
    if (compiled.problems.length > 0) {
      for (const problem of compiled.problems) output.err(`error: ${formatProblem(problem)}`);
      return 1;
    }
    if (options.out === undefined) output.out(suggestion.text.trimEnd());
    else {
      await writeFile(options.out, suggestion.text);
      output.err(`wrote ${compiled.policies.length} policies to ${options.out}`);
    }
    return 0;
  } finally {
    await opened.close();
  }
}
