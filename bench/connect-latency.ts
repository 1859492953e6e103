import { performance } from "node:perf_hooks";
import pg from "pg";
import type { PgTarget } from "./pgbench.js";

export interface ConnectLatency {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Times `count` sequential connect + `SELECT 1` + close cycles: what an agent that opens a connection per
 * task pays, including authentication (SCRAM upstream, token validation at the gateway).
 */
export async function measureConnectLatency(target: PgTarget, count: number): Promise<ConnectLatency> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const client = new pg.Client({
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      database: target.database,
      ssl: false,
      connectionTimeoutMillis: 10_000,
    });
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => {}); // the socket is already failing; do not wait on it
      throw new Error(`connect to ${target.name} failed: ${(error as Error).message}`);
    }
    try {
      await client.query("SELECT 1");
    } finally {
      await client.end();
    }
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return {
    count,
    p50Ms: percentile(samples, 0.5),
    p99Ms: percentile(samples, 0.99),
    maxMs: samples.at(-1) ?? Number.NaN,
  };
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
