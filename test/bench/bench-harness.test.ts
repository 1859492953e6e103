import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { percentile } from "../../bench/connect-latency.js";
import { type PgTarget, parsePgbenchOutput, runPgbench } from "../../bench/pgbench.js";
import { formatPgbenchTable, ratiosFor, tpsRatio } from "../../bench/report.js";
import { PG_BIN_DIR, type PgCluster, startPgCluster } from "../support/pg-cluster.js";

// Captured from pgbench 15.20 on Debian 12.
const PGBENCH_15_OUTPUT = `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 1
query mode: prepared
number of clients: 2
number of threads: 1
maximum number of tries: 1
duration: 1 s
number of transactions actually processed: 32030
number of failed transactions: 0 (0.000%)
latency average = 0.060 ms
initial connection time = 45.560 ms
tps = 33554.269815 (without initial connection time)
`;

describe("parsePgbenchOutput", () => {
  it("reads TPS, average latency and transaction counts", () => {
    expect(parsePgbenchOutput(PGBENCH_15_OUTPUT)).toEqual({
      tps: 33554.269815,
      latencyMs: 0.06,
      transactions: 32030,
      failedTransactions: 0,
    });
  });

  it("does not mistake 'initial connection time' for the latency", () => {
    const reordered = PGBENCH_15_OUTPUT.replace("latency average = 0.060 ms\n", "").concat(
      "latency average = 1.250 ms\n",
    );
    expect(parsePgbenchOutput(reordered).latencyMs).toBe(1.25);
  });

  it("rejects output without a summary, e.g. an aborted run", () => {
    const aborted =
      "pgbench (15.20)\npgbench: error: connection to server failed: FATAL: password authentication failed";
    expect(() => parsePgbenchOutput(aborted)).toThrow(/no tps line/);
  });
});

describe("report arithmetic", () => {
  const run = (tps: number) => ({
    ok: true as const,
    value: {
      tps,
      latencyMs: 1,
      transactions: 1,
      failedTransactions: 0,
      proxyCpuUsPerTxn: null,
      dbCpuUsPerTxn: 2,
    },
  });

  it("computes ratios against direct and pgbouncer, null when a side is missing", () => {
    expect(ratiosFor({ direct: run(40_000), pgbouncer: run(20_000), latch: run(10_000) })).toEqual({
      latchVsDirect: 0.25,
      latchVsPgbouncer: 0.5,
      pgbouncerVsDirect: 0.5,
      nodeFloorVsPgbouncer: null,
      nodeFloorWorkersVsPgbouncer: null,
      cpuLatchVsPgbouncer: null,
      cpuNodeFloorVsPgbouncer: null,
      cpuNodeFloorWorkersVsPgbouncer: null,
      latchPgVsPgbouncer: null,
      latchPgVsLatchSqlite: null,
      latchPgX2VsPgbouncer: null,
      latchPgX2VsLatchSqlite: null,
      latchPgWorkersVsPgbouncer: null,
      latchPgWorkersVsLatchSqlite: null,
    });
    expect(
      ratiosFor({
        pgbouncer: run(20_000),
        latch: run(10_000),
        "latch-pg": run(5_000),
        "latch-pg-x2": run(8_000),
        "latch-pg-workers": run(30_000),
        "node-floor": run(15_000),
        "node-floor-workers": run(25_000),
      }),
    ).toMatchObject({
      nodeFloorVsPgbouncer: 0.75,
      nodeFloorWorkersVsPgbouncer: 1.25,
      latchPgVsPgbouncer: 0.25,
      latchPgVsLatchSqlite: 0.5,
      latchPgX2VsPgbouncer: 0.4,
      latchPgWorkersVsPgbouncer: 1.5,
      latchPgWorkersVsLatchSqlite: 3,
    });
    expect(tpsRatio(run(1), { ok: false, error: "not built" })).toBeNull();
    expect(tpsRatio(undefined, run(1))).toBeNull();
  });

  it("prints n/a for a failed target instead of a number", () => {
    const table = formatPgbenchTable({
      command: "",
      scale: 1,
      seconds: 1,
      runs: { simple: { direct: run(1000), latch: { ok: false, error: "serve failed" } }, prepared: {} },
      ratios: { simple: ratiosFor({}), prepared: ratiosFor({}) },
    });
    expect(table).toMatch(/simple\s+latch\s+n\/a\s+n\/a/);
    expect(table).toMatch(/simple\s+direct\s+1000\s+1\.000\s+n\/a\s+2\.0/);
  });

  it("uses nearest-rank percentiles", () => {
    const samples = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(samples, 0.5)).toBe(100);
    expect(percentile(samples, 0.99)).toBe(198);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe("runPgbench against a real cluster", () => {
  let cluster: PgCluster;
  let target: PgTarget;
  beforeAll(async () => {
    cluster = await startPgCluster();
    target = {
      name: "direct",
      host: cluster.host,
      port: cluster.port,
      user: cluster.appUser,
      database: cluster.appDatabase,
      password: cluster.appPassword,
    };
    await promisify(execFile)(
      `${PG_BIN_DIR}/pgbench`,
      [
        "-i",
        "-q",
        "-s",
        "1",
        "-h",
        target.host,
        "-p",
        String(target.port),
        "-U",
        target.user,
        target.database,
      ],
      { env: { ...process.env, PGPASSWORD: target.password } },
    );
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("measures a prepared-mode run with the installed pgbench", async () => {
    const result = await runPgbench(`${PG_BIN_DIR}/pgbench`, target, "prepared", 1);
    expect(result.tps).toBeGreaterThan(0);
    expect(result.latencyMs).toBeGreaterThan(0);
    expect(result.transactions).toBeGreaterThan(0);
    expect(result.failedTransactions).toBe(0);
  });

  it("fails with pgbench's own message on a wrong password", async () => {
    await expect(
      runPgbench(`${PG_BIN_DIR}/pgbench`, { ...target, password: "wrong" }, "simple", 1),
    ).rejects.toThrow(/password authentication failed/);
  });
});
