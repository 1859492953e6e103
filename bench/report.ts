import type { ApprovalRelease } from "./approval-release.js";
import type { ConnectLatency } from "./connect-latency.js";
import type { IdleSessions } from "./idle-sessions.js";
import type { LatencySummary } from "./latency-log.js";
import type { ManyClients } from "./many-clients.js";
import type { MaskingCost } from "./masking.js";
import type { PgbenchResult, PgTarget, QueryMode } from "./pgbench.js";

export type TargetName = PgTarget["name"];
export const TARGETS: readonly TargetName[] = [
  "direct",
  "pgbouncer",
  "node-floor",
  "node-floor-workers",
  "latch",
  "latch-nopool",
  "latch-pg",
  "latch-pg-x2",
  "latch-pg-workers",
];
/** Targets every run must measure (the PostgreSQL-store rows are reported when they could be set up). */
export const REQUIRED_TARGETS: readonly TargetName[] = ["direct", "pgbouncer", "node-floor", "latch"];
/** Rows compared with PgBouncer in the table: Latch's and the bare Node.js relays'. */
const COMPARED = (target: TargetName) => target.startsWith("latch") || target.startsWith("node-floor");
export const MODES: readonly QueryMode[] = ["simple", "prepared"];

/** A pgbench query mode over plaintext or TLS (pgbench sslmode=require). */
export type Variant = "simple" | "prepared" | "simple tls" | "prepared tls";
export const VARIANTS: readonly { name: Variant; mode: QueryMode; tls: boolean }[] = [
  { name: "simple", mode: "simple", tls: false },
  { name: "prepared", mode: "prepared", tls: false },
  { name: "simple tls", mode: "simple", tls: true },
  { name: "prepared tls", mode: "prepared", tls: true },
];

/** A measurement, or why it could not be taken (Latch not built, serve failed, pgbench aborted). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

/** A pgbench run plus CPU per transaction read from /proc before and after it. */
export interface MeasuredRun extends PgbenchResult {
  /** The proxy's process tree (Latch: every thread; PgBouncer: its process); null for direct. */
  proxyCpuUsPerTxn: number | null;
  /** PostgreSQL's postmaster and backends, live and ended during the run. */
  dbCpuUsPerTxn: number | null;
}

export type Runs = Partial<Record<TargetName, Outcome<MeasuredRun>>>;

export interface PostgresResults {
  pgbench: {
    command: string;
    scale: number;
    seconds: number;
    runs: Partial<Record<Variant, Runs>>;
    ratios: Partial<Record<Variant, ReturnType<typeof ratiosFor>>>;
  };
  /** `-c 1` per-transaction latencies from pgbench's log, plaintext. */
  singleClient: {
    seconds: number;
    results: Partial<Record<QueryMode, Partial<Record<TargetName, Outcome<LatencySummary>>>>>;
  };
  connect: { count: number; results: Partial<Record<TargetName, Outcome<ConnectLatency>>> };
  idleSessions?: Outcome<IdleSessions>;
  manyClients?: Outcome<ManyClients>;
  /** Approval through one replica to the held statement's result on another (PostgreSQL store). */
  approvalRelease?: Outcome<ApprovalRelease>;
}

/** TPS of `a` divided by TPS of `b`, or null when either is missing. */
export function tpsRatio(
  a: Outcome<PgbenchResult> | undefined,
  b: Outcome<PgbenchResult> | undefined,
): number | null {
  if (!a?.ok || !b?.ok || b.value.tps === 0) return null;
  return a.value.tps / b.value.tps;
}

/** Proxy CPU per transaction of `a` over `b`'s, or null when either is missing. */
export function cpuRatio(a: Outcome<MeasuredRun> | undefined, b: Outcome<MeasuredRun> | undefined) {
  const x = a?.ok ? a.value.proxyCpuUsPerTxn : null;
  const y = b?.ok ? b.value.proxyCpuUsPerTxn : null;
  return x === null || y === null || y === 0 ? null : x / y;
}

/** TPS ratios (…VsPgbouncer) and proxy CPU per transaction ratios (cpu…) of one variant's runs. */
export function ratiosFor(runs: Runs) {
  return {
    latchVsDirect: tpsRatio(runs.latch, runs.direct),
    latchVsPgbouncer: tpsRatio(runs.latch, runs.pgbouncer),
    pgbouncerVsDirect: tpsRatio(runs.pgbouncer, runs.direct),
    nodeFloorVsPgbouncer: tpsRatio(runs["node-floor"], runs.pgbouncer),
    nodeFloorWorkersVsPgbouncer: tpsRatio(runs["node-floor-workers"], runs.pgbouncer),
    cpuLatchVsPgbouncer: cpuRatio(runs.latch, runs.pgbouncer),
    cpuNodeFloorVsPgbouncer: cpuRatio(runs["node-floor"], runs.pgbouncer),
    cpuNodeFloorWorkersVsPgbouncer: cpuRatio(runs["node-floor-workers"], runs.pgbouncer),
    latchPgVsPgbouncer: tpsRatio(runs["latch-pg"], runs.pgbouncer),
    latchPgVsLatchSqlite: tpsRatio(runs["latch-pg"], runs.latch),
    latchPgX2VsPgbouncer: tpsRatio(runs["latch-pg-x2"], runs.pgbouncer),
    latchPgX2VsLatchSqlite: tpsRatio(runs["latch-pg-x2"], runs.latch),
    latchPgWorkersVsPgbouncer: tpsRatio(runs["latch-pg-workers"], runs.pgbouncer),
    latchPgWorkersVsLatchSqlite: tpsRatio(runs["latch-pg-workers"], runs.latch),
  };
}

export function formatPgbenchTable(results: PostgresResults["pgbench"]): string {
  const rows: string[][] = [
    [
      "variant",
      "target",
      "TPS",
      "avg ms",
      "÷ direct",
      "÷ pgbouncer",
      "proxy CPU µs/txn",
      "CPU ÷ pgbouncer",
      "db CPU µs/txn",
    ],
  ];
  for (const { name } of VARIANTS) {
    const runs = results.runs[name];
    if (!runs) continue;
    for (const target of TARGETS) {
      const run = runs[target];
      if (!run) continue;
      if (!run.ok) {
        rows.push([name, target, "n/a", "n/a", "", "", "", "", ""]);
        continue;
      }
      const compared = COMPARED(target);
      rows.push([
        name,
        target,
        run.value.tps.toFixed(0),
        run.value.latencyMs.toFixed(3),
        target === "direct" ? "" : formatRatio(tpsRatio(run, runs.direct)),
        compared ? formatRatio(tpsRatio(run, runs.pgbouncer)) : "",
        run.value.proxyCpuUsPerTxn === null ? "n/a" : run.value.proxyCpuUsPerTxn.toFixed(1),
        compared ? formatRatio(cpuRatio(run, runs.pgbouncer)) : "",
        run.value.dbCpuUsPerTxn === null ? "n/a" : run.value.dbCpuUsPerTxn.toFixed(1),
      ]);
    }
  }
  return formatTable(rows);
}

export function formatSingleClientTable(results: PostgresResults["singleClient"]): string {
  const rows: string[][] = [["mode", "target", "p50 ms", "p99 ms", "p50 added over direct ms"]];
  for (const mode of MODES) {
    const byTarget = results.results[mode] ?? {};
    const direct = byTarget.direct;
    for (const target of TARGETS) {
      const run = byTarget[target];
      if (!run) continue;
      if (!run.ok) {
        rows.push([mode, target, "n/a", "n/a", ""]);
        continue;
      }
      const added =
        target !== "direct" && direct?.ok ? (run.value.p50Ms - direct.value.p50Ms).toFixed(3) : "";
      rows.push([mode, target, run.value.p50Ms.toFixed(3), run.value.p99Ms.toFixed(3), added]);
    }
  }
  return formatTable(rows);
}

export function formatConnectTable(results: PostgresResults["connect"]): string {
  const rows: string[][] = [["target", "p50 ms", "p99 ms", "max ms"]];
  for (const target of TARGETS) {
    const run = results.results[target];
    if (!run) continue;
    if (!run.ok) rows.push([target, "n/a", "n/a", "n/a"]);
    else
      rows.push([target, run.value.p50Ms.toFixed(2), run.value.p99Ms.toFixed(2), run.value.maxMs.toFixed(2)]);
  }
  return formatTable(rows);
}

/** Every failed measurement with its reason, so a missing number is never silent. */
export function formatFailures(results: PostgresResults): string[] {
  const lines: string[] = [];
  for (const { name } of VARIANTS) {
    for (const target of TARGETS) {
      const run = results.pgbench.runs[name]?.[target];
      if (run && !run.ok) lines.push(`pgbench ${name} ${target}: ${run.error}`);
    }
  }
  for (const mode of MODES) {
    for (const target of TARGETS) {
      const run = results.singleClient.results[mode]?.[target];
      if (run && !run.ok) lines.push(`-c 1 ${mode} ${target}: ${run.error}`);
    }
  }
  for (const target of TARGETS) {
    const run = results.connect.results[target];
    if (run && !run.ok) lines.push(`connect ${target}: ${run.error}`);
  }
  if (results.idleSessions && !results.idleSessions.ok)
    lines.push(`idle sessions: ${results.idleSessions.error}`);
  if (results.manyClients && !results.manyClients.ok) lines.push(`128 clients: ${results.manyClients.error}`);
  return lines;
}

export function formatRatio(ratio: number | null): string {
  return ratio === null ? "n/a" : `${ratio.toFixed(2)}x`;
}

/** Columns separated by two spaces; a column is right-aligned when its cells (beyond the header) are numeric. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? "").length)));
  const numeric = rows[0]!.map((_, column) =>
    rows.slice(1).some((row) => /^[-\d.]+x?$/.test(row[column] ?? "")),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) =>
          numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
        )
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export type { MaskingCost };
