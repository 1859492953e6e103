import { execFile } from "node:child_process";

/** Where pgbench connects; the password travels in PGPASSWORD so it never shows in `ps`. */
export interface PgTarget {
  name: "direct" | "pgbouncer" | "latch";
  host: string;
  port: number;
  user: string;
  database: string;
  password: string;
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
export function pgbenchArgs(target: PgTarget, mode: QueryMode, seconds: number): string[] {
  return [
    "-h",
    target.host,
    "-p",
    String(target.port),
    "-U",
    target.user,
    "-n",
    "-S",
    "-c",
    "8",
    "-j",
    "2",
    "-T",
    String(seconds),
    "-M",
    mode,
    target.database,
  ];
}

export function runPgbench(
  pgbenchPath: string,
  target: PgTarget,
  mode: QueryMode,
  seconds: number,
): Promise<PgbenchResult> {
  return new Promise((resolve, reject) => {
    execFile(
      pgbenchPath,
      pgbenchArgs(target, mode, seconds),
      {
        env: { ...process.env, PGPASSWORD: target.password, PGSSLMODE: "disable", PGCONNECT_TIMEOUT: "10" },
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
