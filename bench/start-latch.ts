import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DEV_ISSUER_FILE } from "../src/identity/dev-issuer.js";
import { freePort } from "../test/support/free-port.js";
import { spawnService, waitForPort } from "./service-process.js";

const execFileAsync = promisify(execFile);

/**
 * The built CLI: the benchmark measures what `npm run build` produced, never sources through tsx.
 * BENCH_LATCH_CLI points at another build, e.g. of a different commit, for comparisons.
 */
export const LATCH_CLI =
  process.env.BENCH_LATCH_CLI ?? fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));

export interface LatchOptions {
  upstreamPort: number;
  upstreamUser: string;
  upstreamPassword: string;
  database: string;
  /** Directory for the generated policy; created if missing. */
  policyDir: string;
  /** A shared PostgreSQL store (`store:` URL, the password in BENCH_STORE_PASSWORD); default: the embedded one. */
  store?: { url: string; password: string };
  /** Another replica's data_dir: its dev issuer key is copied, so one token works on both. */
  sameIssuerAs?: string;
  /** Replaces the allow-everything policy (file bench.cedar in policyDir). */
  policy?: string;
  /** Node flags before the CLI (after BENCH_LATCH_NODE_ARGS), e.g. a preloaded probe. */
  nodeArgs?: string[];
  /** Extra environment for the gateway process. */
  env?: Record<string, string>;
  /** Extra `latch serve` arguments, e.g. ["--workers", "2"]. */
  serveArgs?: string[];
  /** Polled after the listener opens until true: e.g. every worker of `--workers N` serving. */
  ready?: () => Promise<boolean>;
  /** Another build's CLI than LATCH_CLI (bench/connect-probe.ts runs two side by side). */
  cli?: string;
  /**
   * The connection's upstream pool (`pool:`), default `{ max_idle: 8 }` as a deployment would set it; false
   * for none (every session dials and logs in upstream: the `latch-nopool` rows).
   */
  pool?: { max_idle: number } | false;
}

export interface RunningLatch {
  port: number;
  token: string;
  dataDir: string;
  adminPort: number;
  /** The gateway process (worker threads are inside it), for CPU and RSS from /proc. */
  pid: number;
  /** Another dev-issuer token (e.g. an approver's). */
  mint(sub: string, group: string): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 3 s). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Runs `latch serve` in front of the bench cluster with connection "bench" and a policy that lets group
 * "bench" do anything there, then mints a dev-issuer token for user "bench". Clients connect with
 * dbname=bench user=bench password=<token>.
 */
export async function startLatch(options: LatchOptions): Promise<RunningLatch> {
  const cli = options.cli ?? LATCH_CLI;
  if (!existsSync(cli)) {
    throw new Error(`${cli} is missing: run \`npm run build\` first`);
  }
  const dir = await mkdtemp(join(tmpdir(), "latch-bench-gateway-"));
  const dataDir = join(dir, "data");
  if (options.sameIssuerAs !== undefined) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await copyFile(join(options.sameIssuerAs, DEV_ISSUER_FILE), join(dataDir, DEV_ISSUER_FILE));
  }
  const [pgPort, adminPort] = [await freePort(), await freePort()];
  const configFile = join(dir, "latch.yaml");
  await mkdir(options.policyDir, { recursive: true });
  await writeFile(
    join(options.policyDir, "bench.cedar"),
    options.policy ??
      [
        'permit(principal in Group::"bench", action, resource in Connection::"bench");',
        // The same upstream without the pool: the connect table's latch-nopool row (a dial + SCRAM per session).
        'permit(principal in Group::"bench", action, resource in Connection::"bench-nopool");',
        "",
      ].join("\n"),
  );
  const upstream = `postgres://${encodeURIComponent(options.upstreamUser)}@127.0.0.1:${options.upstreamPort}/${encodeURIComponent(options.database)}`;
  await writeFile(
    configFile,
    [
      `listen: { postgres: "127.0.0.1:${pgPort}", admin: "127.0.0.1:${adminPort}" }`,
      `data_dir: ${JSON.stringify(dataDir)}`,
      ...(options.store === undefined
        ? []
        : [`store: { url: ${JSON.stringify(options.store.url)}, password: { env: BENCH_STORE_PASSWORD } }`]),
      // The same listener answers TLS (certificate generated under data_dir) and plaintext clients.
      "tls: { allow_plaintext: true }",
      // Room for the 1,000 idle sessions of the RSS measurement plus the bench's own connections.
      "limits: { max_connections: 1200 }",
      "identity: { dev_issuer: true }",
      "connections:",
      `  bench: { type: postgres, upstream: ${JSON.stringify(upstream)}, password: { env: BENCH_UPSTREAM_PASSWORD }${poolSetting(options.pool)} }`,
      `  bench-nopool: { type: postgres, upstream: ${JSON.stringify(upstream)}, password: { env: BENCH_UPSTREAM_PASSWORD } }`,
      `policies: ${JSON.stringify(options.policyDir)}`,
      // Per-statement info logs would measure the terminal, not the data path; audit events are still written.
      `log_level: ${process.env.BENCH_LATCH_LOG_LEVEL ?? "warn"}`,
      "",
    ].join("\n"),
  );

  const env = {
    ...process.env,
    BENCH_UPSTREAM_PASSWORD: options.upstreamPassword,
    BENCH_STORE_PASSWORD: options.store?.password ?? "",
    ...options.env,
  };
  const service = spawnService(
    process.execPath,
    [
      ...nodeArgs(),
      ...(options.nodeArgs ?? []),
      cli,
      "serve",
      "--config",
      configFile,
      ...(options.serveArgs ?? []),
    ],
    { env },
  );
  const stop = async (graceMs?: number) => {
    await service.stop(graceMs);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // A cluster starts its workers one by one (each verifies the audit chain): slower on a busy machine.
    await waitForPort(pgPort, service, options.serveArgs === undefined ? 20_000 : 60_000);
    for (const deadline = Date.now() + 60_000; options.ready !== undefined && !(await options.ready()); ) {
      if (Date.now() > deadline) throw new Error(`not ready within 60 s:\n${service.outputTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const { stdout } = await execFileAsync(
      process.execPath,
      [cli, "token", "--sub", "bench", "--group", "bench", "--ttl", "2h", "--config", configFile],
      { env },
    );
    const token = stdout.trim();
    if (!token) throw new Error("`latch token` printed no token");
    const mint = async (sub: string, group: string) =>
      (
        await execFileAsync(
          process.execPath,
          [cli, "token", "--sub", sub, "--group", group, "--ttl", "2h", "--config", configFile],
          { env },
        )
      ).stdout.trim();
    return { port: pgPort, token, dataDir, adminPort, pid: service.child.pid!, mint, stop };
  } catch (error) {
    await stop();
    const { stderr } = error as { stderr?: string };
    throw new Error(`latch: ${stderr?.trim() || (error as Error).message}`);
  }
}

/** BENCH_LATCH_POOL=0 leaves `pool:` out by default: builds from before the pool refuse the key. */
function poolSetting(pool: LatchOptions["pool"]): string {
  const chosen = pool ?? (process.env.BENCH_LATCH_POOL === "0" ? false : { max_idle: 8 });
  return chosen === false ? "" : `, pool: { max_idle: ${chosen.max_idle} }`;
}

/** Extra Node flags for the gateway process, e.g. BENCH_LATCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
function nodeArgs(): string[] {
  return (process.env.BENCH_LATCH_NODE_ARGS ?? "").split(/\s+/).filter((arg) => arg !== "");
}
