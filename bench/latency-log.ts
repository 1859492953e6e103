import { readdir, readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { percentile } from "./connect-latency.js";

export interface LatencySummary {
  transactions: number;
  p50Ms: number;
  p99Ms: number;
}

/**
 * Reads pgbench's per-transaction logs (`-l --log-prefix=PREFIX`: files PREFIX.<pid>[.<thread>], one line per
 * transaction "client_id transaction_no latency_us script_no epoch_s epoch_us") into percentiles. Pure over
 * the text so it is tested on captured lines.
 */
export function summarizeLatencyLines(text: string): LatencySummary {
  const samples: number[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 3) continue;
    const micros = Number(fields[2]);
    if (Number.isFinite(micros)) samples.push(micros / 1000);
  }
  samples.sort((a, b) => a - b);
  return { transactions: samples.length, p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99) };
}

export async function readLatencyLog(prefix: string): Promise<LatencySummary> {
  const dir = dirname(prefix);
  const files = (await readdir(dir)).filter((name) => name.startsWith(`${basename(prefix)}.`));
  if (files.length === 0) throw new Error(`pgbench wrote no transaction log at ${prefix}.*`);
  const texts = await Promise.all(files.map((name) => readFile(join(dir, name), "utf8")));
  const summary = summarizeLatencyLines(texts.join("\n"));
  if (summary.transactions === 0) throw new Error(`pgbench's transaction log at ${prefix}.* is empty`);
  return summary;
}
