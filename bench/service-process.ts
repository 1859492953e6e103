import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";

const TAIL_BYTES = 16 * 1024;

/** A long-running child (PgBouncer, Latch) whose recent output is kept for error messages. */
export interface ServiceProcess {
  child: ChildProcess;
  /** The last few KiB of stdout and stderr, interleaved. */
  outputTail(): string;
  /** Resolves with the exit code (or signal name) once the child is gone. */
  exited: Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnService(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): ServiceProcess {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  let tail = "";
  // The pipes must be drained or a chatty child blocks on a full pipe and skews the benchmark.
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-TAIL_BYTES);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => resolve(signal ?? String(code)));
    child.once("error", (error) => {
      keep(Buffer.from(`${error.message}\n`));
      resolve("spawn error");
    });
  });
  const stop = async (graceMs = 3000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return { child, outputTail: () => tail, exited, stop };
}

/**
 * Waits until 127.0.0.1:`port` accepts TCP, failing early if the service exits first, so a broken config
 * surfaces the service's own message instead of a bare timeout.
 */
export async function waitForPort(port: number, service: ServiceProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitedWith: string | undefined;
  void service.exited.then((code) => {
    exitedWith = code;
  });
  while (Date.now() < deadline) {
    if (exitedWith !== undefined) {
      throw new Error(`exited (${exitedWith}) before listening on ${port}:\n${service.outputTail()}`);
    }
    if (await accepts(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`did not listen on 127.0.0.1:${port} within ${timeoutMs} ms:\n${service.outputTail()}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
