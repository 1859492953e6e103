import { execFile } from "node:child_process";

/** Where pgbench connects; the password travels in PGPASSWORD so it never shows in `ps`. */
export interface PgTarget {
  /**
   * latch: the embedded store; latch-pg: one replica on the PostgreSQL store; latch-pg-x2: two replicas;
   * node-floor: a bare Node.js relay (bench/node-floor.mjs), node-floor-workers: the same with node:cluster;
   * latch-nopool: latch's own process through a connection without `pool:` (connect table only);
   * latch-before: another build's gateway beside latch (bench/single-client-latency.ts).
   */
  name:
    | "direct"
    | "pgbouncer"
    | "node-floor"
    | "node-floor-workers"
    | "latch"
    | "latch-nopool"
    | "latch-before"
    | "latch-pg"
    | "latch-pg-x2"
    | "latch-pg-workers";
  host: string;
  port: number;
  user: string;
  database: string;
  password: string;
  /** Connect with sslmode=require (TLS to the target); default: plaintext (sslmode=disable). */
  tls?: boolean;
  /** Where TLS clients connect when it is not `port` (node-floor: a second relay that terminates TLS). */
  tlsPort?: number;
}

/** How long and how wide a run is, and where pgbench logs each transaction's latency (`-l`). */
export interface PgbenchShape {
  clients?: number;
  /** `-t`: transactions per client (instead of `-T seconds`), for a fixed, repeatable workload. */
  transactionsPerClient?: number;
  /** `-l --log-prefix`: one line per transaction, read back by readLatencyLog. */
  logPrefix?: string;
}

export type QueryMode = "simple" | "prepared";

export interface PgbenchResult {
  tps: number;
  latencyMs: number;
  transactions: number;
  failedTransactions: number;
}

/**
 * Reads the summary pgbench prints at the end of a run (PostgreSQL 15 format). Pure, so it is tested
 * against captured outputs.
 */
export function parsePgbenchOutput(output: string): PgbenchResult {
  const number = (pattern: RegExp, what: string): number => {
    const match = pattern.exec(output);
    if (!match?.[1]) throw new Error(`pgbench output has no ${what}:\n${output.slice(-2000)}`);
    return Number(match[1]);
  };
  return {
    tps: number(/^tps = ([\d.]+)/m, "tps line"),
    latencyMs: number(/^latency average = ([\d.]+) ms/m, "latency average"),
    transactions: number(/^number of transactions actually processed: (\d+)/m, "transaction count"),
    // Older pgbench versions do not print failures; absent means none were counted.
    failedTransactions: /^number of failed transactions: (\d+)/m.exec(output)
      ? number(/^number of failed transactions: (\d+)/m, "failed transactions")
      : 0,
  };
}

/** The built-in select-only script, a fixed client count and no vacuum (proxies may not permit it). */
export function pgbenchArgs(
  target: PgTarget,
  mode: QueryMode,
  seconds: number,
  clients = 8,
  shape: PgbenchShape = {},
): string[] {
  const length =
    shape.transactionsPerClient === undefined
      ? ["-T", String(seconds)]
      : ["-t", String(shape.transactionsPerClient)];
  return [
    "-h",
    target.host,
    "-p",
    String(target.tls && target.tlsPort !== undefined ? target.tlsPort : target.port),
    "-U",
    target.user,
    "-n",
    "-S",
    "-c",
    String(clients),
    "-j",
    String(Math.min(2, clients)),
    ...length,
    "-M",
    mode,
    ...(shape.logPrefix === undefined ? [] : ["-l", `--log-prefix=${shape.logPrefix}`]),
    target.database,
  ];
}

export function runPgbench(
  pgbenchPath: string,
  target: PgTarget,
  mode: QueryMode,
  seconds: number,
  clients = 8,
  shape: PgbenchShape = {},
): Promise<PgbenchResult> {
  return new Promise((resolve, reject) => {
    execFile(
      pgbenchPath,
      pgbenchArgs(target, mode, seconds, clients, shape),
      {
        env: {
          ...process.env,
          PGPASSWORD: target.password,
          PGSSLMODE: target.tls ? "require" : "disable",
          PGCONNECT_TIMEOUT: "10",
        },
        timeout: (seconds + 60) * 1000,
        maxBuffer: 16 << 20,
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`pgbench against ${target.name} failed: ${stderr.trim() || error.message}`));
          return;
        }
        try {
          resolve(parsePgbenchOutput(`${stdout}\n${stderr}`));
        } catch (parseError) {
          reject(parseError);
        }
      },
    );
  });
}

/**
 * The same 8 clients spread round-robin over several gateways (replicas behind a load balancer): one pgbench
 * per gateway with its share of the clients, all at once. TPS and transactions add up; latency is the
 * transaction-weighted mean.
 */
export async function runPgbenchSpread(
  pgbenchPath: string,
  targets: readonly PgTarget[],
  mode: QueryMode,
  seconds: number,
  clients = 8,
): Promise<PgbenchResult> {
  const shares = targets.map(
    (_, i) => Math.floor(clients / targets.length) + (i < clients % targets.length ? 1 : 0),
  );
  const results = await Promise.all(
    targets.map((target, i) => runPgbench(pgbenchPath, target, mode, seconds, shares[i]!)),
  );
  const transactions = results.reduce((sum, r) => sum + r.transactions, 0);
  return {
    tps: results.reduce((sum, r) => sum + r.tps, 0),
    latencyMs: results.reduce((sum, r) => sum + r.latencyMs * r.transactions, 0) / Math.max(1, transactions),
    transactions,
    failedTransactions: results.reduce((sum, r) => sum + r.failedTransactions, 0),
  };
}
