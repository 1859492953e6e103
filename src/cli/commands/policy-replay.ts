import path from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../../config/load-config.js";
import { LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import { createCedarPolicyEngine } from "../../policy/create-cedar-engine.js";
import { engineOptionsOf } from "../../policy/engine-options.js";
import { loadPolicies } from "../../policy/load-policies.js";
import { formatReplayReport } from "../../replay/format-replay.js";
import { REPLAY_CACHE_SIZE, replayHistory } from "../../replay/replay-history.js";
import { openAuditReader } from "../../store/open-audit-reader.js";

/** Where output goes (policy.ts's CommandOutput; restated so the two files do not import each other). */
export interface CommandOutput {
  out(line: string): void;
  err(line: string): void;
}

export interface PolicyReplayOptions {
  readonly policies: string;
  readonly since?: string;
  readonly until?: string;
  readonly connection?: string;
  readonly principal?: string;
  readonly json?: boolean;
  readonly allowRegressions?: boolean;
  readonly config?: string;
  readonly dataDir?: string;
  /** Progress lines at most this often (ms); default 2000. */
  readonly progressEveryMs?: number;
}

export function registerPolicyReplayCommand(policy: Command, output: CommandOutput): void {
  policy
    .command("replay")
    .description(
      "re-decide the recorded operations against candidate policies and print what would change; exits 1 when something that ran would now be denied",
    )
    .requiredOption("--policies <dir>", "directory of the candidate *.cedar files")
    .option("--since <when>", "start of the window: a duration back from now (7d, 12h) or an ISO time", "7d")
    .option("--until <when>", "end of the window: a duration back from now or an ISO time (default: now)")
    .option("--connection <name>", "only operations on this connection")
    .option("--principal <subject>", "only operations of this principal")
    .option("--json", "print the report as JSON (for CI)")
    .option("--allow-regressions", "exit 0 even when operations that ran would now be denied")
    .option(
      "--config <file>",
      "config file: current policies and the store (default: ./latch.yaml when present)",
    )
    .option("--data-dir <dir>", "read the store under this data_dir instead of the config's")
    .action(async (options: PolicyReplayOptions) => {
      process.exitCode = await runPolicyReplay(options, output);
    });
}

export async function runPolicyReplay(options: PolicyReplayOptions, output: CommandOutput): Promise<number> {
  const overrides = options.dataDir === undefined ? {} : { data_dir: path.resolve(options.dataDir) };
  const { config } = loadConfig(options.config, overrides);
  const now = Date.now();
  const since = options.since === undefined ? undefined : timeOf(options.since, now, "--since");
  const until = options.until === undefined ? undefined : timeOf(options.until, now, "--until");
  // Both sets see the config's time zone and sensitivity labels: local_time is re-derived from the recorded UTC
  // time, and sensitivity from the recorded tables.
  const engineOptions = { ...engineOptionsOf(config), cacheSize: REPLAY_CACHE_SIZE };
  const current = createCedarPolicyEngine(await loadPolicies(config.policies), engineOptions);
  const candidate = createCedarPolicyEngine(
    await loadPolicies(path.resolve(options.policies)),
    engineOptions,
  );
  const opened = openAuditReader(config);
  const every = options.progressEveryMs ?? 2000;
  let lastProgress = now;
  try {
    const report = await replayHistory({
      reader: opened.reader,
      current,
      candidate,
      ...(since === undefined ? {} : { since }),
      ...(until === undefined ? {} : { until }),
      ...(options.connection === undefined ? {} : { connection: options.connection }),
      ...(options.principal === undefined ? {} : { principal: options.principal }),
      onProgress: ({ events, seq, elapsedMs }) => {
        const at = Date.now();
        if (at - lastProgress < every) return;
        lastProgress = at;
        const rate = Math.round(events / Math.max(elapsedMs / 1000, 0.001));
        output.err(`replay: ${events} events read (up to seq ${seq}), ${rate} events/s`);
      },
    });
    if (options.json) output.out(JSON.stringify(report));
    else for (const line of formatReplayReport(report)) output.out(line);
    return report.regressions.count > 0 && options.allowRegressions !== true ? 1 : 0;
  } finally {
    await opened.close();
  }
}

/** "7d" (back from now) or an ISO-8601 time. */
export function timeOf(text: string, now: number, flag: string): number {
  if (/^\d+(ms|s|m|h|d)$/.test(text.trim())) return now - parseDuration(text);
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) {
    throw new LatchError("config_invalid", {
      detail: `${flag} ${text}: expected a duration back from now (7d, 12h) or an ISO time (2026-11-30T08:00:00Z)`,
    });
  }
  return parsed;
}
