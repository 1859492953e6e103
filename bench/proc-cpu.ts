import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second for /proc times (`getconf CLK_TCK`, 100 on every Linux this runs on). */
export const CLK_TCK = (() => {
  try {
    const value = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
})();

/**
 * utime + stime + cutime + cstime of one process from /proc/<pid>/stat, in clock ticks. The process line sums
 * every thread, live and exited (worker threads are inside it); cutime/cstime hold the children it has reaped,
 * so PostgreSQL backends that ended during a run still count on the postmaster. Fields after the command name,
 * which may contain spaces and parentheses, so it is cut at the last ")".
 */
export function processTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
}

/** The process and every live descendant (via /proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const all: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift()!;
    all.push(next);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${next}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        const children = readFileSync(`/proc/${next}/task/${tid}/children`, "utf8").trim();
        if (children !== "") queue.push(...children.split(" ").map(Number));
      } catch {
        // the thread ended meanwhile
      }
    }
  }
  return all;
}

/** CPU seconds a process tree has used so far; processes that vanish between listing and reading count 0. */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const member of processTree(pid)) {
    try {
      ticks += processTicks(member);
    } catch {
      // exited between the listing and the read: its time moved to its parent's cutime
    }
  }
  return ticks / CLK_TCK;
}

/** Resident set size of one process (all threads share it), in bytes, from /proc/<pid>/status VmRSS. */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match) throw new Error(`/proc/${pid}/status has no VmRSS`);
  return Number(match[1]) * 1024;
}

/**
 * Samples named groups of process trees (e.g. two replicas as one "proxy") before and after `work`, returning
 * the CPU seconds each group used meanwhile; an empty group is left out.
 */
export async function cpuDuring<T>(
  groups: Record<string, readonly number[]>,
  work: () => Promise<T>,
): Promise<{ result: T; cpuSeconds: Record<string, number> }> {
  const sample = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + treeCpuSeconds(pid), 0);
  const measured = Object.entries(groups).filter(([, pids]) => pids.length > 0);
  const before = measured.map(([, pids]) => sample(pids));
  const result = await work();
  const cpuSeconds: Record<string, number> = {};
  measured.forEach(([name, pids], i) => {
    cpuSeconds[name] = sample(pids) - before[i]!;
  });
  return { result, cpuSeconds };
}
