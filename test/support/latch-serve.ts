import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

/** The compiled executable, as users run it. */
export const LATCH_CLI = path.resolve("dist/src/cli/main.js");

/** Starts `latch serve --config FILE` and resolves once it logs "gateway ready" (stderr is quoted on failure). */
export function startLatchServe(config: string, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [LATCH_CLI, "serve", "--config", config], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${stderr}`)), 20_000);
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes("gateway ready")) {
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
