/**
 * `npm run bench [-- --quick] [-- --only <section>[,<section>]]`: what Latch costs in the data path, next to a
 * direct connection and PgBouncer, in one run; the sections are listed in SECTIONS below (bench/sections.ts
 * says how to add one). See bench/README.md for what the numbers mean.
 */
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, release } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatGoalTable, goalRows } from "./goals.js";
import type { HttpBenchRow } from "./http-bench.js";
import { type MaskingCost, measureMasking } from "./masking.js";
import type { MysqlBenchRow } from "./mysql-bench.js";
import { postgresFacts, postgresSection } from "./postgres-section.js";
import type { PostgresResults } from "./report.js";
import { type BenchSection, rowsSection, type SectionOutput, selectSections } from "./sections.js";

/** Run in this order; `--only` picks by name. Optional benches join with one line each (see sections.ts). */
const SECTIONS: BenchSection[] = [
  postgresSection,
  {
    name: "masking",
    title: "Masking: 1,000 rows x 10 columns through the result masker",
    async run(ctx) {
      const cost = await measureMasking(ctx.quick ? 60 : 300);
      const us = (v: number) => `${v.toFixed(0)} µs`;
      return {
        text: [
          `median of ${cost.runs} runs: unmasked ${us(cost.unmaskedUs)}; added by 3 column rules ${us(cost.columnRulesAddedUs)};`,
          `added by 3 column rules + all detectors on the other 7 columns ${us(cost.allDetectorsAddedUs)}`,
        ].join("\n"),
        json: cost,
        complete: true,
      };
    },
  },
  rowsSection(
    "http",
    "HTTP gateway: small JSON GET, direct vs nginx proxy_pass (worker_processes 1) vs bare node:https + undici (1 process) vs Latch (with and without masking)",
    async (ctx) =>
      (await import("./http-bench.js"))
        .measureHttp({ ...(ctx.quick ? { seconds: 2, rounds: 1 } : {}), log: ctx.progress })
        .then((rows) => rows.map((row) => ({ ...row }))),
  ),
  rowsSection(
    "mysql",
    "MySQL: sysbench oltp_point_select, direct MariaDB vs nginx stream relay vs bare Node relay vs Latch (workers: relaying processes)",
    async (ctx) =>
      (await import("./mysql-bench.js"))
        .runMysqlBench({ ...(ctx.quick ? { seconds: 3, rounds: 1 } : {}), log: ctx.progress })
        .then((rows) => rows.map((row) => ({ ...row }))),
  ),
  rowsSection(
    "mcp",
    "MCP: sql_query by primary key through /mcp vs the same query through the PostgreSQL listener",
    async (ctx) =>
      (await import("./mcp-bench.js"))
        .runMcpBench(ctx.quick ? 200 : 1000)
        .then((rows) => rows.map((row) => ({ ...row }))),
  ),
];

const USAGE = `usage: npm run bench [-- --quick] [-- --only <section>[,<section>...]]
  --quick   short runs and fewer rows (about a minute), the same tables
  --only    run only these sections: ${SECTIONS.map((s) => s.name).join(", ")}`;

const RESULTS_FILE = fileURLToPath(new URL("./results/latest.json", import.meta.url));

function parseArgs(argv: string[]): { quick: boolean; only?: string } {
  let quick = false;
  let only: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--quick") quick = true;
    else if (arg === "--only") only = argv[++i];
    else if (arg.startsWith("--only=")) only = arg.slice("--only=".length);
    else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else {
      console.error(`bench: unknown argument ${arg}\n${USAGE}`);
      process.exit(1);
    }
  }
  return only === undefined ? { quick } : { quick, only };
}

/** Set on Ctrl-C: services are being stopped, so later failures are expected and not reported. */
let interrupted = false;
function progress(message: string): void {
  if (interrupted) return;
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function command(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

const stops: (() => Promise<void>)[] = [];
process.once("SIGINT", () => {
  progress("interrupted: stopping services...");
  interrupted = true;
  void Promise.all(stops.map((stop) => stop().catch(() => {}))).finally(() => process.exit(130));
});

const args = parseArgs(process.argv.slice(2));
let sections: BenchSection[];
try {
  sections = selectSections(SECTIONS, args.only);
} catch (error) {
  console.error(`bench: ${(error as Error).message}`);
  process.exit(1);
}

const outputs: Record<string, SectionOutput | { error: string }> = {};
let complete = true;
for (const section of sections) {
  // The load at each section's start: numbers from a busy machine are read with it (docs/benchmarks.md).
  const load = command("cat", ["/proc/loadavg"]).split(" ").slice(0, 3).join(" ");
  progress(`section ${section.name}: ${section.title}${args.quick ? " (quick)" : ""}, load average ${load}`);
  try {
    outputs[section.name] = await section.run({
      quick: args.quick,
      progress,
      onStop: (stop) => stops.push(stop),
    });
  } catch (error) {
    if (interrupted) break;
    outputs[section.name] = { error: (error as Error).message };
    console.error(`bench: section ${section.name} failed: ${(error as Error).message}`);
  }
}
if (!interrupted) {
  for (const section of sections) {
    const output = outputs[section.name];
    console.log(`\n== ${section.title}${args.quick ? " (--quick)" : ""}\n`);
    if (output === undefined || "error" in output) {
      console.log(`not measured: ${output?.error ?? "not run"}`);
      complete = false;
    } else {
      console.log(output.text);
      complete &&= output.complete;
    }
  }
  const json = (name: string) => {
    const output = outputs[name];
    return output !== undefined && !("error" in output) ? output.json : undefined;
  };
  const goals = goalRows(
    json("postgres") as PostgresResults | undefined,
    json("masking") as MaskingCost | undefined,
    {
      http: json("http") as HttpBenchRow[] | undefined,
      mysql: json("mysql") as MysqlBenchRow[] | undefined,
    },
  );
  console.log(
    `\n== Goals of issues 12, 13, 15, with the Node floor beside each${args.quick ? " (--quick: short runs, indicative only)" : ""}\n`,
  );
  console.log(formatGoalTable(goals));

  const results = {
    generatedAt: new Date().toISOString(),
    quick: args.quick,
    sections: Object.fromEntries(
      Object.entries(outputs).map(([name, output]) => [name, "error" in output ? output : output.json]),
    ),
    goals,
    environment: {
      cpuModel: cpus()[0]?.model ?? "unknown",
      cores: cpus().length,
      kernel: release(),
      os: process.platform,
      node: process.version,
      ...postgresFacts,
      gitCommit: command("git", ["rev-parse", "HEAD"]),
      gitDirty: command("git", ["status", "--porcelain", "--untracked-files=no"]) !== "",
      loadAverage: command("cat", ["/proc/loadavg"]),
    },
  };
  await mkdir(join(RESULTS_FILE, ".."), { recursive: true });
  await writeFile(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${RESULTS_FILE}`);
  // A benchmark that could not measure a target did not do its job: say so in the exit code too.
  process.exitCode = complete ? 0 : 2;
}
await Promise.all(stops.map((stop) => stop().catch(() => {})));
