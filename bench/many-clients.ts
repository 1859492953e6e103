import { execFile } from "node:child_process";
import { type PgTarget, pgbenchArgs } from "./pgbench.js";

export interface ManyClients {
  clients: number;
  seconds: number;
  transactions: number;
  tps: number;
  /** Failed transactions plus clients that aborted or could not connect: the goal is 0. */
  errors: number;
  /** pgbench's own words for the first few errors, when there were any. */
  firstErrors: string[];
}

/**
 * `pgbench -S -c <clients>` through a target, counting every error instead of failing on the first: a client
 * that cannot connect or is dropped shows up in the count, with pgbench's message.
 */
export function runManyClients(
  pgbenchPath: string,
  target: PgTarget,
  clients: number,
  seconds: number,
): Promise<ManyClients> {
  return new Promise((resolve) => {
    execFile(
      pgbenchPath,
      pgbenchArgs(target, "simple", seconds, clients),
      {
        env: { ...process.env, PGPASSWORD: target.password, PGSSLMODE: "disable", PGCONNECT_TIMEOUT: "30" },
        timeout: (seconds + 120) * 1000,
        maxBuffer: 16 << 20,
      },
      (_error, stdout, stderr) => resolve(parseManyClients(`${stdout}\n${stderr}`, clients, seconds)),
    );
  });
}

/** Pure over pgbench's output, so it is tested on captured text. */
export function parseManyClients(output: string, clients: number, seconds: number): ManyClients {
  const number = (pattern: RegExp) => Number(pattern.exec(output)?.[1] ?? 0);
  const errorLines = output.split("\n").filter((line) => /error|aborted|FATAL|could not/i.test(line));
  const aborted = errorLines.filter((line) => /client \d+ aborted/.test(line)).length;
  const transactions = number(/^number of transactions actually processed: (\d+)/m);
  const summary = /^tps = /m.test(output);
  // No summary at all: the run died (e.g. the initial connections failed); count every client as failed.
  const errors = summary
    ? number(/^number of failed transactions: (\d+)/m) + aborted
    : Math.max(clients, errorLines.length);
  return {
    clients,
    seconds,
    transactions,
    tps: number(/^tps = ([\d.]+)/m),
    errors,
    firstErrors: errorLines.slice(0, 3).map((line) => line.trim()),
  };
}
