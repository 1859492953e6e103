import type { HttpBenchRow } from "./http-bench.js";
import type { MaskingCost } from "./masking.js";
import type { MysqlBenchRow } from "./mysql-bench.js";
import {
  cpuRatio,
  formatTable,
  MODES,
  type PostgresResults,
  type TargetName,
  tpsRatio,
  VARIANTS,
} from "./report.js";

/**
 * One benchmark target (issues 12, 13, 15) and where this run stands: met, not met, or n/a when it was not
 * measured; and the same target for the bare Node.js relay in the same run (bench/node-floor.mjs, nothing but
 * relaying). A floor that does not meet a target says no Node.js gateway can in this setup.
 */
export interface GoalRow {
  issue: 12 | 13 | 15;
  metric: string;
  value: string;
  goal: string;
  pass: boolean | null;
  /** Which floor the same metric was computed for (node-floor, node-relay-workers, ...), if one applies. */
  floor?: string;
  floorValue?: string;
  /** null: not measured; undefined: no floor for this target (e.g. memory of idle sessions, masking). */
  floorPass?: boolean | null;
  /**
   * Latch's value over the floor's (both ratios to the reference): how far Latch is from what a bare Node.js
   * relay reaches in the same run, the part of the gap that is Latch's own work. "n/a" when either is missing.
   */
  overFloor?: string;
}

const x = (value: number) => `${value.toFixed(2)}x`;

/** Other sections' rows, for issue 13's and 15's targets. */
export interface OtherResults {
  http?: readonly HttpBenchRow[];
  mysql?: readonly MysqlBenchRow[];
}

/** The issues' targets, each computed from the same run's numbers, for Latch and for the Node floor. */
export function goalRows(
  pg: PostgresResults | undefined,
  masking: MaskingCost | undefined,
  others: OtherResults = {},
): GoalRow[] {
  const rows: GoalRow[] = [];
  const add = (
    issue: GoalRow["issue"],
    metric: string,
    value: number | null,
    goal: string,
    holds: (v: number) => boolean,
    floor?: { name: string; value: number | null },
    show = x,
  ) =>
    rows.push({
      issue,
      metric,
      value: value === null ? "n/a" : show(value),
      goal,
      pass: value === null ? null : holds(value),
      ...(floor === undefined
        ? {}
        : {
            floor: floor.name,
            floorValue: floor.value === null ? "n/a" : show(floor.value),
            floorPass: floor.value === null ? null : holds(floor.value),
            overFloor:
              value === null || floor.value === null || floor.value === 0 ? "n/a" : x(value / floor.value),
          }),
    });
  const atLeast1 = (v: number) => v >= 1;
  const runsOf = (variant: string) => pg?.pgbench.runs[variant as (typeof VARIANTS)[number]["name"]];
  for (const { name } of VARIANTS) {
    const runs = runsOf(name);
    add(12, `TPS latch ÷ pgbouncer, ${name}`, tpsRatio(runs?.latch, runs?.pgbouncer), ">= 1.00x", atLeast1, {
      name: "node-floor",
      value: tpsRatio(runs?.["node-floor"], runs?.pgbouncer),
    });
  }
  for (const mode of MODES) {
    const runs = runsOf(mode);
    add(
      12,
      `TPS latch --workers ÷ pgbouncer, ${mode} (latch-pg-workers)`,
      tpsRatio(runs?.["latch-pg-workers"], runs?.pgbouncer),
      ">= 1.00x",
      atLeast1,
      { name: "node-floor-workers", value: tpsRatio(runs?.["node-floor-workers"], runs?.pgbouncer) },
    );
  }
  for (const { name } of VARIANTS) {
    const runs = runsOf(name);
    const atMost = (v: number) => v <= 1.5;
    add(
      12,
      `CPU/txn latch ÷ pgbouncer, ${name}`,
      cpuRatio(runs?.latch, runs?.pgbouncer),
      "<= 1.50x",
      atMost,
      {
        name: "node-floor",
        value: cpuRatio(runs?.["node-floor"], runs?.pgbouncer),
      },
    );
  }
  for (const mode of MODES) {
    const byTarget = pg?.singleClient.results[mode];
    const direct = byTarget?.direct;
    const added = (target: TargetName) => {
      const run = byTarget?.[target];
      return run?.ok && direct?.ok ? run.value.p50Ms - direct.value.p50Ms : null;
    };
    const bouncer = added("pgbouncer");
    const overBouncer = (target: TargetName) => {
      const value = added(target);
      return value === null || bouncer === null || bouncer <= 0 ? null : value / bouncer;
    };
    add(
      12,
      `-c 1 p50 added over direct, latch ÷ pgbouncer, ${mode}`,
      overBouncer("latch"),
      "<= 1.50x",
      (v) => v <= 1.5,
      { name: "node-floor", value: overBouncer("node-floor") },
    );
  }
  const connect = pg?.connect.results;
  const connectOver = (target: TargetName) => {
    const run = connect?.[target];
    return run?.ok && connect?.pgbouncer?.ok ? run.value.p50Ms / connect.pgbouncer.value.p50Ms : null;
  };
  add(12, "connect p50 latch ÷ pgbouncer", connectOver("latch"), "<= 1.20x", (v) => v <= 1.2, {
    name: "node-floor",
    value: connectOver("node-floor"),
  });
  const idle = pg?.idleSessions;
  const mb = (v: number) => `${v.toFixed(0)} MB`;
  add(
    12,
    idle?.ok && idle.value.sessions !== 1000
      ? `RSS growth, 1,000 idle sessions (estimated from ${idle.value.sessions})`
      : "RSS growth, 1,000 idle sessions",
    idle?.ok ? idle.value.growthPer1000Mb : null,
    "< 300 MB",
    (v) => v < 300,
    undefined,
    mb,
  );
  const many = pg?.manyClients;
  add(
    12,
    `errors with ${many?.ok ? many.value.clients : 128} concurrent pgbench clients`,
    many?.ok ? many.value.errors : null,
    "0",
    (v) => v === 0,
    undefined,
    String,
  );
  add(
    12,
    "masking 1,000 rows x 10 columns, all detectors: added",
    masking === undefined ? null : masking.allDetectorsAddedUs / 1000,
    "< 2 ms",
    (v) => v < 2,
    undefined,
    (v) => `${v.toFixed(2)} ms`,
  );
  httpGoals(others.http, add);
  mysqlGoals(others.mysql, add);
  return rows;
}

type Add = (
  issue: GoalRow["issue"],
  metric: string,
  value: number | null,
  goal: string,
  holds: (v: number) => boolean,
  floor?: { name: string; value: number | null },
) => void;

/** Issue 13: Latch's added p50 within 1.5x of nginx proxy_pass's; the floor is node:https + undici. */
function httpGoals(http: readonly HttpBenchRow[] | undefined, add: Add): void {
  // The median of the rounds' own ratios (http-bench.ts httpRows); a results file from before the rounds has
  // none, and its ratio is the one round's.
  const nginx = http?.find((r) => r.target === "nginx");
  const overNginx = (target: HttpBenchRow["target"]) => {
    const row = http?.find((r) => r.target === target);
    if (row === undefined) return null;
    if (row.addedP50VsNginx !== undefined) return row.addedP50VsNginx;
    return nginx === undefined || nginx.addedP50Ms <= 0 ? null : row.addedP50Ms / nginx.addedP50Ms;
  };
  const floor = { name: "node-proxy", value: overNginx("node-proxy") };
  for (const target of ["latch", "latch+masking"] as const)
    add(13, `HTTP added p50 ${target} ÷ nginx`, overNginx(target), "<= 1.50x", (v) => v <= 1.5, floor);
}

/** Issue 15: Latch's TPS at least 0.8x nginx's stream relay (worker_processes 1); the floor is a Node pipe. */
function mysqlGoals(mysql: readonly MysqlBenchRow[] | undefined, add: Add): void {
  const vsRelay = (target: MysqlBenchRow["target"]) =>
    mysql?.find((r) => r.target === target)?.vsRelay ?? null;
  const holds = (v: number) => v >= 0.8;
  add(15, "MySQL TPS latch ÷ nginx stream (1 worker)", vsRelay("latch"), ">= 0.80x", holds, {
    name: "node-relay",
    value: vsRelay("node-relay"),
  });
  add(
    15,
    "MySQL TPS latch --workers ÷ nginx stream (1 worker)",
    vsRelay("latch-workers"),
    ">= 0.80x",
    holds,
    {
      name: "node-relay-workers",
      value: vsRelay("node-relay-workers"),
    },
  );
  // Both sides on every core: nginx with as many worker processes as the Node relays have workers.
  const overNginxWorkers = (target: MysqlBenchRow["target"]) => {
    const row = mysql?.find((r) => r.target === target);
    const nginx = mysql?.find((r) => r.target === "nginx-stream-workers");
    return row === undefined || nginx === undefined || nginx.tps === 0 ? null : row.tps / nginx.tps;
  };
  add(
    15,
    "MySQL TPS latch --workers ÷ nginx stream (same workers)",
    overNginxWorkers("latch-workers"),
    ">= 0.80x",
    holds,
    {
      name: "node-relay-workers",
      value: overNginxWorkers("node-relay-workers"),
    },
  );
}

const met = (pass: boolean | null | undefined) =>
  pass === undefined ? "" : pass === null ? "n/a" : pass ? "met" : "not met";

export function formatGoalTable(rows: readonly GoalRow[]): string {
  return [
    formatTable([
      ["issue", "metric", "this run", "goal", "latch", "node floor", "floor value", "floor", "latch ÷ floor"],
      ...rows.map((row) => [
        String(row.issue),
        row.metric,
        row.value,
        row.goal,
        met(row.pass),
        row.floor ?? "",
        row.floorValue ?? "",
        met(row.floorPass),
        row.overFloor ?? "",
      ]),
    ]),
    "",
    "node floor: the bare Node.js relay (bench/node-floor.mjs) measured the same way in this run, doing nothing but",
    'relaying; floor "not met" means the target is out of reach for any Node.js gateway in this setup. latch ÷ floor:',
    "Latch's value over the floor's, the part of the gap that is Latch's own work (TPS: below 1; costs: above 1).",
  ].join("\n");
}
