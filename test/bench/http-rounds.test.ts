import { describe, expect, it } from "vitest";
import { goalRows } from "../../bench/goals.js";
import { httpRows } from "../../bench/http-bench.js";

const TARGETS = ["direct", "nginx", "node-proxy", "latch"] as const;
const round = (p50s: readonly number[]) =>
  p50s.map((p50) => ({ rps: 1000 / p50, p50, p99: p50 * 4, errors: 0, cpuUs: p50 * 100 }));

describe("HTTP bench rounds", () => {
  // Per target (rows), p50 per round (columns); round 2 is the kind of round a full run once had: nginx
  // starved, so every other proxy looked cheap beside it.
  const byTarget = [
    [0.3, 0.3, 0.3],
    [0.6, 2.3, 0.5],
    [1.0, 1.5, 0.9],
    [1.3, 1.8, 1.1],
  ];
  const measured = byTarget.map((p50s) =>
    round(p50s).map((r) => ({ ...r, cpuUs: r.cpuUs as number | undefined })),
  );
  measured[0] = measured[0]!.map((r) => ({ ...r, cpuUs: undefined }));
  const rows = httpRows(TARGETS, measured);

  it("takes each figure as the median of its rounds, added latency over the same round's direct", () => {
    const latch = rows[3]!;
    expect(latch.p50Ms).toBe(1.3);
    expect(latch.addedP50Ms).toBe(1);
    expect(latch.cpuUsPerRequest).toBe(130);
    expect(latch.rounds).toBe(3);
    expect(rows[0]).toMatchObject({ addedP50Ms: 0, cpuUsPerRequest: null, addedP50VsNginx: null });
    expect(rows[1]!.addedP50VsNginx).toBeNull();
  });

  it("takes the ratio to nginx as the median of the rounds' own ratios, outvoting one starved round", () => {
    // latch ÷ nginx per round: 1.0/0.3 = 3.33, 1.5/2.0 = 0.75, 0.8/0.2 = 4.0 -> median 3.33
    expect(rows[3]!.addedP50VsNginx).toBe(3.33);
    // node-proxy: 0.7/0.3 = 2.33, 1.2/2.0 = 0.6, 0.6/0.2 = 3.0 -> 2.33
    expect(rows[2]!.addedP50VsNginx).toBe(2.33);
    const goals = goalRows(undefined, undefined, { http: rows });
    expect(goals.find((g) => g.metric === "HTTP added p50 latch ÷ nginx")).toMatchObject({
      value: "3.33x",
      pass: false,
      floorValue: "2.33x",
      floorPass: false,
    });
  });

  it("has no ratio for a round in which nginx added nothing", () => {
    const flat = httpRows(TARGETS, [round([0.3]), round([0.3]), round([0.5]), round([0.9])]);
    expect(flat[3]!.addedP50VsNginx).toBeNull();
    expect(flat[3]!.addedP50Ms).toBe(0.6);
  });
});
