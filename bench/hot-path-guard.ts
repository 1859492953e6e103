import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { HotPathCounts } from "./hot-path-counters.js";

/** The numbers kept in the repository, written by `npm run bench:baseline`. */
export interface HotPathBaseline {
  about: string;
  workload: string;
  /** A counter may rise by this fraction before the guard fails (0.2 = 20 %). */
  tolerance: number;
  updatedAt: string;
  gitCommit: string;
  /** "<mode>.<counter>" -> count per transaction. */
  counters: Record<string, number>;
  /** What the baseline command saw across its runs, for the record: min and max per counter. */
  spread?: Record<string, { min: number; max: number }>;
}

export const BASELINE_FILE = fileURLToPath(new URL("./baseline/hot-path.json", import.meta.url));
export const UPDATE_COMMAND = "npm run build && npm run bench:baseline";

/**
 * The counters the guard compares: chosen because they repeat within a few per cent across runs, also with
 * the other core loaded (measured spread in docs/benchmarks.md). auditEvents is 1 per statement while each
 * result rides in the next operation (audit/folded-result.ts) and moves only with the recording format or a
 * round trip slower than the 10 ms lazy window. epoll waits, the SQLite indexer's calls and
 * /proc/<pid>/io's byte counts depend on timing and are reported, not guarded.
 */
export const GUARDED_COUNTERS = [
  "writeSyscalls",
  "readSyscalls",
  "heapBytesAllocated",
  "auditEvents",
] as const;

export function flattenCounts(counts: HotPathCounts): Record<string, number> {
  const flat: Record<string, number> = {};
  for (const [mode, counters] of Object.entries(counts.perTransaction)) {
    for (const name of GUARDED_COUNTERS) {
      const value = counters[name];
      if (value !== undefined) flat[`${mode}.${name}`] = value;
    }
  }
  return flat;
}

export function readBaseline(file = BASELINE_FILE): HotPathBaseline {
  return JSON.parse(readFileSync(file, "utf8")) as HotPathBaseline;
}

export interface GuardVerdict {
  /** Counters that rose by more than the tolerance: the guard fails. */
  rises: string[];
  /** Counters that fell by more than the tolerance: the baseline is stale (not a failure). */
  stale: string[];
  /** Counters measured but missing from the baseline, or the other way round. */
  missing: string[];
  /** One line per counter, then what to do. */
  message: string;
}

/** Compares per-transaction counts with the baseline: pure, so its verdicts are tested on made-up numbers. */
export function judge(current: Record<string, number>, baseline: HotPathBaseline): GuardVerdict {
  const rises: string[] = [];
  const stale: string[] = [];
  const missing: string[] = [];
  const lines: string[] = [];
  const names = [...new Set([...Object.keys(baseline.counters), ...Object.keys(current)])].sort();
  for (const name of names) {
    const was = baseline.counters[name];
    const now = current[name];
    if (was === undefined || now === undefined) {
      missing.push(name);
      lines.push(`  ${name}: ${was === undefined ? "not in the baseline" : "not measured"}`);
      continue;
    }
    const change = was === 0 ? (now === 0 ? 0 : Number.POSITIVE_INFINITY) : now / was - 1;
    const pct = `${change >= 0 ? "+" : ""}${(change * 100).toFixed(1)}%`;
    let mark = "ok";
    if (change > baseline.tolerance) {
      rises.push(name);
      mark = `ROSE more than ${(baseline.tolerance * 100).toFixed(0)}%`;
    } else if (change < -baseline.tolerance) {
      stale.push(name);
      mark = "fell: baseline stale";
    }
    lines.push(`  ${name}: ${fmt(now)} per transaction, baseline ${fmt(was)} (${pct}) ${mark}`);
  }
  const advice: string[] = [];
  if (rises.length > 0 || missing.length > 0) {
    advice.push(
      `Hot-path guard: ${rises.length > 0 ? `${rises.join(", ")} rose by more than ${(baseline.tolerance * 100).toFixed(0)}% per transaction` : `counters differ from the baseline's: ${missing.join(", ")}`} against ${BASELINE_FILE.replace(/.*\/bench\//, "bench/")} (commit ${baseline.gitCommit.slice(0, 12)}).`,
      "If the rise is a regression, find the extra system calls or bytes per statement (strace -f -c on latch serve, see bench/README.md).",
      `If it is deliberate (e.g. a new audit field, a check that must write), update the baseline and commit it with the reason: ${UPDATE_COMMAND}`,
    );
  } else if (stale.length > 0) {
    advice.push(
      `Hot-path guard passes; ${stale.join(", ")} fell by more than ${(baseline.tolerance * 100).toFixed(0)}%: the baseline is stale, lock the gain in with ${UPDATE_COMMAND}`,
    );
  }
  return { rises, stale, missing, message: [...advice, ...lines].join("\n") };
}

function fmt(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(3);
}
