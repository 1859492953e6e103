import type { MaskingCost } from "./masking.js";
import { cpuRatio, formatTable, MODES, type PostgresResults, tpsRatio, VARIANTS } from "./report.js";

/** One target of issue 12 and where this run stands: pass, fail, or n/a when it was not measured. */
export interface GoalRow {
  metric: string;
  value: string;
  goal: string;
  pass: boolean | null;
}

const x = (value: number) => `${value.toFixed(2)}x`;

/** The goals, each computed from the same run's numbers. */
export function goalRows(pg: PostgresResults | undefined, masking: MaskingCost | undefined): GoalRow[] {
  const rows: GoalRow[] = [];
  const add = (metric: string, value: number | null, goal: string, holds: (v: number) => boolean, show = x) =>
    rows.push({
      metric,
      value: value === null ? "n/a" : show(value),
      goal,
      pass: value === null ? null : holds(value),
    });
  for (const { name } of VARIANTS) {
    const runs = pg?.pgbench.runs[name];
    add(`TPS latch ÷ pgbouncer, ${name}`, tpsRatio(runs?.latch, runs?.pgbouncer), ">= 1.00x", (v) => v >= 1);
  }
  for (const { name } of VARIANTS) {
    const runs = pg?.pgbench.runs[name];
    add(
      `CPU/txn latch ÷ pgbouncer, ${name}`,
      cpuRatio(runs?.latch, runs?.pgbouncer),
      "<= 1.50x",
      (v) => v <= 1.5,
    );
  }
  for (const mode of MODES) {
    const byTarget = pg?.singleClient.results[mode];
    const direct = byTarget?.direct;
    const added = (target: "latch" | "pgbouncer") => {
      const run = byTarget?.[target];
      return run?.ok && direct?.ok ? run.value.p50Ms - direct.value.p50Ms : null;
    };
    const latch = added("latch");
    const bouncer = added("pgbouncer");
    add(
      `-c 1 p50 added over direct, latch ÷ pgbouncer, ${mode}`,
      latch === null || bouncer === null || bouncer <= 0 ? null : latch / bouncer,
      "<= 1.50x",
      (v) => v <= 1.5,
    );
  }
  const connect = pg?.connect.results;
  add(
    "connect p50 latch ÷ pgbouncer",
    connect?.latch?.ok && connect.pgbouncer?.ok
      ? connect.latch.value.p50Ms / connect.pgbouncer.value.p50Ms
      : null,
    "<= 1.20x",
    (v) => v <= 1.2,
  );
  const idle = pg?.idleSessions;
  add(
    idle?.ok && idle.value.sessions !== 1000
      ? `RSS growth, 1,000 idle sessions (estimated from ${idle.value.sessions})`
      : "RSS growth, 1,000 idle sessions",
    idle?.ok ? idle.value.growthPer1000Mb : null,
    "< 300 MB",
    (v) => v < 300,
    (v) => `${v.toFixed(0)} MB`,
  );
  const many = pg?.manyClients;
  add(
    `errors with ${many?.ok ? many.value.clients : 128} concurrent pgbench clients`,
    many?.ok ? many.value.errors : null,
    "0",
    (v) => v === 0,
    (v) => String(v),
  );
  add(
    "masking 1,000 rows x 10 columns, all detectors: added",
    masking === undefined ? null : masking.allDetectorsAddedUs / 1000,
    "< 2 ms",
    (v) => v < 2,
    (v) => `${v.toFixed(2)} ms`,
  );
  return rows;
}

export function formatGoalTable(rows: readonly GoalRow[]): string {
  return formatTable([
    ["metric", "this run", "goal", "pass"],
    ...rows.map((row) => [
      row.metric,
      row.value,
      row.goal,
      row.pass === null ? "n/a" : row.pass ? "PASS" : "FAIL",
    ]),
  ]);
}
