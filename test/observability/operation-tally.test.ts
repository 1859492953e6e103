import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/observability/metrics.js";

const OPERATIONS = "latch_operations_total";
const DURATION = "latch_operation_duration_seconds";

/** The same two metrics called the plain prom-client way, once per operation: what /metrics showed before. */
function reference() {
  const registry = new Registry();
  const operations = new Counter({
    name: OPERATIONS,
    help: "Operations (statement batches) by decision",
    labelNames: ["protocol", "decision"] as const,
    registers: [registry],
  });
  const seconds = new Histogram({
    name: DURATION,
    help: "Time from receiving an operation to its last response byte",
    labelNames: ["protocol"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
    registers: [registry],
  });
  return { registry, operations, seconds };
}

describe("operation counts folded at scrape", () => {
  it("scrape the same text as prom-client called per operation, across scrapes, protocols and odd sums", async () => {
    const plain = reference();
    const metrics = createMetrics();
    const scrape = async () => {
      for (const name of [OPERATIONS, DURATION])
        expect(await metrics.registry.getSingleMetricAsString(name)).toBe(
          await plain.registry.getSingleMetricAsString(name),
        );
    };
    await scrape(); // nothing yet on either side
    const protocols = ["http", "postgres", "mysql"];
    const decisions = ["allow", "deny", "approval"];
    let state = 7;
    const next = () => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return state;
    };
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 400; i++) {
        const protocol = protocols[next() % (round === 0 ? 1 : 3)]!;
        const decision = decisions[next() % 3]!;
        // 0.1 and 0.2 do not add exactly; 31 and 120 are above the last bound (count and sum only).
        const value = [0.1, 0.2, 0.0003, 0.0042, 31, 120, 0.7, 1e-9][next() % 8]! * (1 + (next() % 5) / 7);
        plain.operations.inc({ protocol, decision });
        metrics.countOperation(protocol, decision);
        plain.seconds.observe({ protocol }, value);
        metrics.observeOperationSeconds(protocol, value);
      }
      await scrape();
      if (round === 3) await scrape(); // a scrape with nothing new in between
    }
    const { values } = await metrics.operations.get();
    expect(values.reduce((sum, v) => sum + v.value, 0)).toBe(2400);
  });

  it("refuses a duration that is not a finite number, as prom-client does, and counts nothing for it", async () => {
    const metrics = createMetrics();
    expect(() => metrics.observeOperationSeconds("http", Number.NaN)).toThrow(TypeError);
    expect(() => metrics.observeOperationSeconds("http", Number.POSITIVE_INFINITY)).toThrow(TypeError);
    metrics.observeOperationSeconds("http", 0.002);
    const text = await metrics.registry.getSingleMetricAsString(DURATION);
    expect(text).toContain('latch_operation_duration_seconds_count{protocol="http"} 1');
    expect(text).toContain('latch_operation_duration_seconds_bucket{le="0.0025",protocol="http"} 1');
    expect(text).toContain('latch_operation_duration_seconds_bucket{le="0.001",protocol="http"} 0');
  });
});
