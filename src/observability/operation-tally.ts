import type { Counter, Histogram } from "prom-client";

/** One (protocol, decision) count not yet folded into latch_operations_total. */
interface DecisionCell {
  readonly labels: { protocol: string; decision: string };
  pending: number;
}

/** prom-client 15's own value for one label set of a histogram (not in its types; read only at scrape). */
interface HistogramEntry {
  readonly labels: Record<string, string>;
  readonly bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/** The durations of one protocol not yet folded into latch_operation_duration_seconds. */
interface DurationCell {
  readonly labels: { protocol: string };
  /** Observations per upper bound, not cumulative (as prom-client keeps them); above the last: count only. */
  readonly buckets: Float64Array;
  pending: number;
  /** The running sum, continued from the entry's at the last fold: the same additions in the same order. */
  sum: number;
  /** The sum at the last fold, and the entry it went into. */
  base: number;
  entry: HistogramEntry | undefined;
}

/**
 * The two metrics every operation moves (latch_operations_total, latch_operation_duration_seconds) counted as
 * plain numbers on the request path and folded into their prom-client metrics by collect() at each scrape:
 * prom-client's inc()/observe() validate and hash the label object on every call (a closure, a label copy and
 * a key string per observation), even through a pre-bound labels() child. The scrape shows the same values in
 * the same order as calling prom-client each time: cells fold in first-seen order, counts add exactly, and the
 * histogram sum is the same chain of additions.
 */
export class OperationTally {
  private readonly decisions = new Map<string, Map<string, DecisionCell>>();
  private readonly decisionOrder: DecisionCell[] = [];
  private readonly durations = new Map<string, DurationCell>();

  constructor(private readonly upperBounds: readonly number[]) {}

  countDecision(protocol: string, decision: string): void {
    let byDecision = this.decisions.get(protocol);
    if (byDecision === undefined) {
      byDecision = new Map();
      this.decisions.set(protocol, byDecision);
    }
    let cell = byDecision.get(decision);
    if (cell === undefined) {
      cell = { labels: { protocol, decision }, pending: 0 };
      byDecision.set(decision, cell);
      this.decisionOrder.push(cell);
    }
    cell.pending += 1;
  }

  observeSeconds(protocol: string, seconds: number): void {
    // As prom-client's observe(): a value that is not a finite number is refused, not counted.
    if (!Number.isFinite(seconds)) throw new TypeError(`Value is not a valid number: ${seconds}`);
    let cell = this.durations.get(protocol);
    if (cell === undefined) {
      cell = {
        labels: { protocol },
        buckets: new Float64Array(this.upperBounds.length),
        pending: 0,
        sum: 0,
        base: 0,
        entry: undefined,
      };
      this.durations.set(protocol, cell);
    }
    const bounds = this.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= bounds[i]!) {
        cell.buckets[i]! += 1;
        break;
      }
    }
    cell.sum += seconds;
    cell.pending += 1;
  }

  /** collect() of latch_operations_total. */
  foldDecisions(counter: Counter<"protocol" | "decision">): void {
    for (const cell of this.decisionOrder) {
      if (cell.pending === 0) continue;
      counter.inc(cell.labels, cell.pending);
      cell.pending = 0;
    }
  }

  /** collect() of latch_operation_duration_seconds. */
  foldDurations(histogram: Histogram<"protocol">): void {
    for (const cell of this.durations.values()) {
      if (cell.pending === 0) continue;
      let entry = entryOf(histogram, cell.labels.protocol);
      if (entry === undefined) {
        histogram.zero(cell.labels);
        entry = entryOf(histogram, cell.labels.protocol);
        if (entry === undefined) throw new Error("prom-client histogram: zero() left no entry");
      }
      const bounds = this.upperBounds;
      for (let i = 0; i < bounds.length; i++) {
        entry.bucketValues[bounds[i]!]! += cell.buckets[i]!;
        cell.buckets[i] = 0;
      }
      entry.count += cell.pending;
      // The same entry as at the last fold: the cell's sum is its chain continued. Another one (the first fold,
      // or a reset metric): what came since the last fold is added to it.
      entry.sum = entry === cell.entry ? cell.sum : entry.sum + (cell.sum - cell.base);
      cell.sum = entry.sum;
      cell.base = entry.sum;
      cell.entry = entry;
      cell.pending = 0;
    }
  }
}

function entryOf(histogram: Histogram<"protocol">, protocol: string): HistogramEntry | undefined {
  const map = (histogram as unknown as { hashMap: Record<string, HistogramEntry> }).hashMap;
  for (const key in map) {
    const entry = map[key]!;
    if (entry.labels.protocol === protocol) return entry;
  }
  return undefined;
}
