import type { ApprovalRelease } from "./approval-release.js";
import type { ConnectLatency } from "./connect-latency.js";
import type { PgbenchResult, PgTarget, QueryMode } from "./pgbench.js";

export type TargetName = PgTarget["name"];
export const TARGETS: readonly TargetName[] = ["direct", "pgbouncer", "latch", "latch-pg", "latch-pg-x2"];
/** Targets every run must measure (the PostgreSQL-store rows are reported when they could be set up). */
export const REQUIRED_TARGETS: readonly TargetName[] = ["direct", "pgbouncer", "latch"];
export const MODES: readonly QueryMode[] = ["simple", "prepared"];

/** A measurement, or why it could not be taken (Latch not built, serve failed, pgbench aborted). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

export interface BenchResults {
  generatedAt: string;
  pgbench: {
    command: string;
    scale: number;
    seconds: number;
    runs: Record<QueryMode, Partial<Record<TargetName, Outcome<PgbenchResult>>>>;
    ratios: Record<QueryMode, ReturnType<typeof ratiosFor>>;
  };
  connect: { count: number; results: Partial<Record<TargetName, Outcome<ConnectLatency>>> };
  /** Approval through one replica to the held statement's result on another (PostgreSQL store). */
  approvalRelease?: Outcome<ApprovalRelease>;
  environment: Record<string, string | number>;
}

/** TPS of `a` divided by TPS of `b`, or null when either is missing. */
export function tpsRatio(
  a: Outcome<PgbenchResult> | undefined,
  b: Outcome<PgbenchResult> | undefined,
): number | null {
  if (!a?.ok || !b?.ok || b.value.tps === 0) return null;
  return a.value.tps / b.value.tps;
}

export function ratiosFor(runs: Partial<Record<TargetName, Outcome<PgbenchResult>>>) {
  return {
    latchVsDirect: tpsRatio(runs.latch, runs.direct),
    latchVsPgbouncer: tpsRatio(runs.latch, runs.pgbouncer),
    pgbouncerVsDirect: tpsRatio(runs.pgbouncer, runs.direct),
    latchPgVsPgbouncer: tpsRatio(runs["latch-pg"], runs.pgbouncer),
    latchPgVsLatchSqlite: tpsRatio(runs["latch-pg"], runs.latch),
    latchPgX2VsPgbouncer: tpsRatio(runs["latch-pg-x2"], runs.pgbouncer),
    latchPgX2VsLatchSqlite: tpsRatio(runs["latch-pg-x2"], runs.latch),
  };
}

export function formatPgbenchTable(results: BenchResults["pgbench"]): string {
  const rows: string[][] = [
    ["mode", "target", "TPS", "avg latency ms", "÷ direct", "÷ pgbouncer", "÷ latch (sqlite)"],
  ];
  for (const mode of MODES) {
    const runs = results.runs[mode];
    for (const target of TARGETS) {
      const run = runs[target];
      if (!run) continue;
      if (!run.ok) {
        rows.push([mode, target, "n/a", "n/a", "", "", ""]);
        continue;
      }
      rows.push([
        mode,
        target,
        run.value.tps.toFixed(0),
        run.value.latencyMs.toFixed(3),
        target === "direct" ? "" : formatRatio(tpsRatio(run, runs.direct)),
        target.startsWith("latch") ? formatRatio(tpsRatio(run, runs.pgbouncer)) : "",
        target.startsWith("latch-pg") ? formatRatio(tpsRatio(run, runs.latch)) : "",
      ]);
    }
  }
  return formatTable(rows, [false, false, true, true, true, true, true]);
}

export function formatConnectTable(results: BenchResults["connect"]): string {
  const rows: string[][] = [["target", "p50 ms", "p99 ms", "max ms"]];
  for (const target of TARGETS) {
    const run = results.results[target];
    if (!run) continue;
    if (!run.ok) rows.push([target, "n/a", "n/a", "n/a"]);
    else
      rows.push([target, run.value.p50Ms.toFixed(2), run.value.p99Ms.toFixed(2), run.value.maxMs.toFixed(2)]);
  }
  return formatTable(rows, [false, true, true, true]);
}

/** Every failed measurement with its reason, so a missing number is never silent. */
export function formatFailures(results: BenchResults): string[] {
  const lines: string[] = [];
  for (const mode of MODES) {
    for (const target of TARGETS) {
      const run = results.pgbench.runs[mode][target];
      if (run && !run.ok) lines.push(`pgbench ${mode} ${target}: ${run.error}`);
    }
  }
  for (const target of TARGETS) {
    const run = results.connect.results[target];
    if (run && !run.ok) lines.push(`connect ${target}: ${run.error}`);
  }
  return lines;
}

function formatRatio(ratio: number | null): string {
  return ratio === null ? "n/a" : `${ratio.toFixed(2)}x`;
}

function formatTable(rows: string[][], alignRight: boolean[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          alignRight[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
