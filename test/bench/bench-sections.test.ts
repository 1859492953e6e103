import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { goalRows } from "../../bench/goals.js";
import { summarizeLatencyLines } from "../../bench/latency-log.js";
import { parseManyClients } from "../../bench/many-clients.js";
import { processTree, rssBytes, treeCpuSeconds } from "../../bench/proc-cpu.js";
import type { PostgresResults } from "../../bench/report.js";
import { type BenchSection, formatRows, selectSections } from "../../bench/sections.js";

describe("pgbench per-transaction log", () => {
  it("reads the latency column (µs) into nearest-rank percentiles in ms", () => {
    // pgbench 15 -l lines: client_id transaction_no latency_us script_no epoch_s epoch_us
    const lines = Array.from({ length: 100 }, (_, i) => `0 ${i} ${(i + 1) * 10} 0 1764600000 ${i}`).join(
      "\n",
    );
    expect(summarizeLatencyLines(`${lines}\n`)).toEqual({ transactions: 100, p50Ms: 0.5, p99Ms: 0.99 });
  });
});

describe("128-client error count", () => {
  it("counts failed transactions and aborted clients", () => {
    const output = `number of transactions actually processed: 900
number of failed transactions: 3 (0.3%)
tps = 300.5 (without initial connection time)
pgbench: error: client 17 aborted in command 1 (SQL) of script 0; FATAL: too many connections`;
    expect(parseManyClients(output, 128, 3)).toMatchObject({ transactions: 900, errors: 4, tps: 300.5 });
  });

  it("counts every client as failed when pgbench died before its summary", () => {
    const output = "pgbench: error: connection to server failed: FATAL: too many connections";
    expect(parseManyClients(output, 128, 3).errors).toBe(128);
  });

  it("reports zero for a clean run", () => {
    const output =
      "number of transactions actually processed: 10\nnumber of failed transactions: 0 (0.000%)\ntps = 5\n";
    expect(parseManyClients(output, 128, 3).errors).toBe(0);
  });
});

describe("CPU and RSS from /proc", () => {
  it("sums a process tree, children included", async () => {
    const child = spawn("sleep", ["5"]);
    await new Promise((resolve) => child.once("spawn", resolve));
    try {
      expect(processTree(process.pid)).toContain(child.pid);
      expect(treeCpuSeconds(process.pid)).toBeGreaterThan(0);
      expect(rssBytes(process.pid)).toBeGreaterThan(1 << 20);
    } finally {
      child.kill();
    }
  });
});

describe("issue 12 goals", () => {
  const run = (tps: number, cpu: number | null) => ({
    ok: true as const,
    value: {
      tps,
      latencyMs: 1,
      transactions: 1,
      failedTransactions: 0,
      proxyCpuUsPerTxn: cpu,
      dbCpuUsPerTxn: 1,
    },
  });
  const pg: PostgresResults = {
    pgbench: {
      command: "",
      scale: 1,
      seconds: 1,
      runs: {
        simple: {
          direct: run(30_000, null),
          pgbouncer: run(15_000, 30),
          "node-floor": run(9_000, 40),
          latch: run(16_000, 60),
        },
      },
      ratios: {},
    },
    singleClient: { seconds: 1, results: {} },
    connect: { count: 1, results: {} },
    idleSessions: {
      ok: true,
      value: {
        sessions: 200,
        rssBeforeMb: 100,
        rssAfterMb: 170,
        growthMb: 70,
        perSessionKb: 358,
        growthPer1000Mb: 350,
        fdLimit: "1024",
      },
    },
  };

  it("marks pass, fail and n/a from the run's own numbers", () => {
    const rows = goalRows(pg, undefined);
    const row = (metric: string) => rows.find((r) => r.metric.startsWith(metric));
    expect(row("TPS latch ÷ pgbouncer, simple")).toMatchObject({ value: "1.07x", pass: true });
    expect(row("CPU/txn latch ÷ pgbouncer, simple")).toMatchObject({ value: "2.00x", pass: false });
    expect(row("TPS latch ÷ pgbouncer, prepared tls")).toMatchObject({ value: "n/a", pass: null });
    expect(row("RSS growth")).toMatchObject({ value: "350 MB", pass: false });
    expect(row("RSS growth")!.metric).toContain("estimated from 200");
    expect(row("masking")).toMatchObject({ pass: null });
  });

  it("computes each target for the Node floor of the same run beside Latch's", () => {
    const rows = goalRows(pg, undefined, {
      http: [
        { target: "nginx" as const, addedP50Ms: 0.2 },
        { target: "node-proxy" as const, addedP50Ms: 0.5 },
        { target: "latch" as const, addedP50Ms: 2 },
      ].map((r) => ({
        ...r,
        requestsPerSecond: 1,
        p50Ms: 1,
        p99Ms: 1,
        addedP99Ms: 1,
        errors: 0,
        cpuUsPerRequest: 1,
      })),
      mysql: [
        { target: "nginx-stream" as const, vsRelay: 1, tps: 1000 },
        { target: "nginx-stream-workers" as const, vsRelay: 1.6, tps: 1600 },
        { target: "node-relay" as const, vsRelay: 0.7, tps: 700 },
        { target: "node-relay-workers" as const, vsRelay: 1.2, tps: 1200 },
        { target: "latch" as const, vsRelay: 0.3, tps: 300 },
      ].map((r) => ({ ...r, workers: 1, p50Ms: 1, addedP50Ms: 0 })),
    });
    const row = (metric: string) => rows.find((r) => r.metric.startsWith(metric));
    expect(row("TPS latch ÷ pgbouncer, simple")).toMatchObject({
      floor: "node-floor",
      floorValue: "0.60x",
      floorPass: false,
    });
    expect(row("CPU/txn latch ÷ pgbouncer, simple")).toMatchObject({ floorValue: "1.33x", floorPass: true });
    expect(row("TPS latch --workers ÷ pgbouncer, simple")).toMatchObject({ pass: null, floorPass: null });
    expect(row("RSS growth")).not.toHaveProperty("floorPass");
    expect(row("HTTP added p50 latch ÷ nginx")).toMatchObject({
      value: "10.00x",
      floorValue: "2.50x",
      floorPass: false,
      overFloor: "4.00x",
    });
    expect(row("TPS latch --workers ÷ pgbouncer, simple")).toMatchObject({ overFloor: "n/a" });
    expect(row("MySQL TPS latch ÷ nginx stream (1 worker)")).toMatchObject({ pass: false, floorPass: false });
    expect(row("MySQL TPS latch --workers ÷ nginx stream (1 worker)")).toMatchObject({
      pass: null,
      floorValue: "1.20x",
      floorPass: true,
    });
    expect(row("MySQL TPS latch --workers ÷ nginx stream (same workers)")).toMatchObject({
      floorValue: "0.75x",
      floorPass: false,
    });
  });
});

describe("bench sections", () => {
  const section = (name: string): BenchSection => ({
    name,
    title: name,
    run: async () => ({ text: "", json: null, complete: true }),
  });
  const all = [section("postgres"), section("masking"), section("http")];

  it("runs all in order, or only the named ones in the list's order", () => {
    expect(selectSections(all, undefined).map((s) => s.name)).toEqual(["postgres", "masking", "http"]);
    expect(selectSections(all, "http,postgres").map((s) => s.name)).toEqual(["postgres", "http"]);
  });

  it("names the known sections when asked for an unknown one", () => {
    expect(() => selectSections(all, "mysql")).toThrow(
      "unknown section mysql: known sections are postgres, masking, http",
    );
  });

  it("prints rows as a table with n/a for missing cells", () => {
    const text = formatRows([
      { target: "latch", rps: 1234.5 },
      { target: "nginx", rps: 2000, p50: 0.25 },
    ]);
    expect(text.split("\n")).toEqual(["target   rps    p50", "latch   1235    n/a", "nginx   2000  0.250"]);
  });
});
