import { type ChildProcess, execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./free-port.js";
import { LATCH_CLI, startLatchServe } from "./latch-serve.js";

const run = promisify(execFile);

/** A compiled `latch serve` with a MySQL listener (and the admin API) in a scratch directory of its own. */
export interface MysqlLatch {
  readonly dir: string;
  readonly config: string;
  readonly port: number;
  /** The admin API's base URL. */
  readonly admin: string;
  readonly gateway: ChildProcess;
  /** A dev-issuer token for `sub` in `group`, as `latch token` prints it. */
  mint(sub: string, group: string): Promise<string>;
  /** Stops the gateway and removes the directory. */
  close(): void;
}

export async function startMysqlLatch(input: {
  /** Cedar text of the one policy file. */
  readonly policy: string;
  /** YAML of the `connections:` map's entries, each line indented by two spaces. */
  readonly connections: string;
  /** More top-level YAML (e.g. `tls: { allow_plaintext: true }`). */
  readonly extra?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}): Promise<MysqlLatch> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "latch-mysql-"));
  mkdirSync(path.join(dir, "policies"));
  writeFileSync(path.join(dir, "policies", "p.cedar"), input.policy);
  // A port found free can be taken by another test file before the gateway binds it: try new ones then.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const adminPort = await freePort();
    const config = path.join(dir, "latch.yaml");
    writeFileSync(
      config,
      `listen: { mysql: "127.0.0.1:${port}", admin: "127.0.0.1:${adminPort}" }
data_dir: ./data
identity: { dev_issuer: true }
policies: ./policies
${input.extra ?? ""}
connections:
${input.connections}
`,
    );
    try {
      const gateway = await startLatchServe(config, input.env ?? {}, {
        timeoutMs: input.timeoutMs ?? 50_000,
      });
      return running(dir, config, port, adminPort, gateway);
    } catch (error) {
      if (attempt < 3 && String(error).includes("EADDRINUSE")) continue;
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }
}

function running(
  dir: string,
  config: string,
  port: number,
  adminPort: number,
  gateway: ChildProcess,
): MysqlLatch {
  return {
    dir,
    config,
    port,
    admin: `http://127.0.0.1:${adminPort}`,
    gateway,
    mint: async (sub, group) =>
      (
        await run(process.execPath, [LATCH_CLI, "token", "--config", config, "--sub", sub, "--group", group])
      ).stdout.trim(),
    close() {
      gateway.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
