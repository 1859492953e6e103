import { describe, expect, it } from "vitest";
import { median } from "../../bench/median.js";
import { mysqlRows } from "../../bench/mysql-bench.js";

describe("MySQL bench rounds", () => {
  const targets = [
    { target: "direct" as const, workers: null },
    { target: "nginx-stream" as const, workers: 1 },
    { target: "node-relay" as const, workers: 1 },
    { target: "latch" as const, workers: 1 },
  ];
  const round = (tps: number, p50Ms: number, cpuUs?: number) => ({ tps, p50Ms, cpuUs });
  // Round 2: nginx starved by the scheduler, so everything else read far above it.
  const rows = mysqlRows(targets, [
    [round(30000, 0.1), round(31000, 0.1), round(29000, 0.1)],
    [round(17000, 0.2, 30), round(6000, 0.5, 80), round(16000, 0.2, 32)],
    [round(11000, 0.3, 50), round(12000, 0.3, 55), round(12800, 0.3, 48)],
    [round(6000, 0.5, 150), round(6600, 0.5, 160), round(6400, 0.5, 140)],
  ]);

  it("takes each figure as the median of its rounds and the ratio as the median of the rounds' ratios", () => {
    // latch ÷ nginx per round: 0.353, 1.1, 0.4 -> 0.4; a ratio of the median TPS would read 6400/16000 too,
    // but node-relay shows the difference: 0.647, 2.0, 0.8 -> 0.8 (median TPS 12000/16000 = 0.75).
    expect(rows[3]).toMatchObject({
      tps: 6400,
      vsRelay: 0.4,
      gatewayCpuUsPerTx: 150,
      rounds: 3,
      addedP50Ms: 0.4,
    });
    expect(rows[2]!.vsRelay).toBe(0.8);
    expect(rows[1]!.vsRelay).toBe(1);
    expect(rows[0]).not.toHaveProperty("gatewayCpuUsPerTx");
  });

  it("medians: odd, even and none", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
