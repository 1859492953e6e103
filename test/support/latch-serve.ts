import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

/** The compiled executable, as users run it. */
export const LATCH_CLI = path.resolve("dist/src/cli/main.js");

export interface LatchServeOptions {
  /** Extra `latch serve` arguments, e.g. ["--workers", "2"]. */
  readonly args?: readonly string[];
  /** What stderr must contain before the gateway counts as up; default "gateway ready". */
  readonly ready?: string;
  /** Every stderr chunk, also after start (logs of later restarts). */
  readonly onStderr?: (text: string) => void;
  /** How long start-up may take; default 45 s (a start is ~1 s quiet, but CI runs files in parallel on 2 cores). */
  readonly timeoutMs?: number;
}

/** Starts `latch serve --config FILE` and resolves once it logs "gateway ready" (stderr is quoted on failure). */
export function startLatchServe(
  config: string,
  env: NodeJS.ProcessEnv = {},
  options: LatchServeOptions = {},
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [LATCH_CLI, "serve", "--config", config, ...(options.args ?? [])], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const ready = options.ready ?? "gateway ready";
  let stderr = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL"); // a gateway (or a primary restarting workers) left running would outlive the test
      reject(new Error(`gateway did not start: ${stderr}`));
    }, options.timeoutMs ?? 45_000);
    child.stderr!.on("data", (d: Buffer) => {
      options.onStderr?.(d.toString());
      stderr += d.toString();
      if (stderr.includes(ready)) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited ${code}: ${stderr}`));
    });
  });
}
