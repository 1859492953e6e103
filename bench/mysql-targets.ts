/**
 * What the MySQL section measures against besides MariaDB itself: nginx's stream relay (worker_processes 1, the
 * issue 15 reference, or N) and `latch serve` with a mysql connection (one process on the embedded store, or
 * `--workers N` on a throwaway PostgreSQL store, which several workers need).
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../test/support/free-port.js";
import { type PgCluster, startPgCluster } from "../test/support/pg-cluster.js";
import { workersReady } from "./latch-workers.js";
import { type ServiceProcess, spawnService, waitForPort } from "./service-process.js";
import { LATCH_CLI } from "./start-latch.js";

const run = promisify(execFile);

/** nginx with only the stream module relaying 127.0.0.1:`port` to MariaDB, `workers` worker processes. */
export async function startNginxStream(
  dir: string,
  port: number,
  upstreamPort: number,
  workers: number,
): Promise<ServiceProcess> {
  const prefix = join(dir, `nginx-${workers}`);
  await mkdir(prefix, { recursive: true });
  await writeFile(
    join(prefix, "nginx.conf"),
    `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes ${workers};
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/nginx-error.log warn;
events { worker_connections 1024; }
stream { server { listen 127.0.0.1:${port}; proxy_pass 127.0.0.1:${upstreamPort}; } }
`,
  );
  const nginx = spawnService("nginx", [
    "-c",
    join(prefix, "nginx.conf"),
    "-p",
    prefix,
    "-e",
    join(prefix, "nginx-error.log"),
  ]);
  await waitForPort(port, nginx, 10_000);
  return nginx;
}

export interface RunningMysqlLatch {
  service: ServiceProcess;
  port: number;
  token: string;
  stop(): Promise<void>;
}

/**
 * `latch serve` with connection "sb" to the bench database (policy: selects and session statements of group
 * "bench"), plaintext allowed, and a dev-issuer token for user "sysbench". With workers > 1 a throwaway
 * PostgreSQL cluster holds the store, and the gateway counts as up once every worker has sent a heartbeat.
 */
export async function startMysqlLatch(
  dir: string,
  upstream: { port: number; database: string },
  workers = 1,
): Promise<RunningMysqlLatch> {
  const home = join(dir, `latch-${workers}`);
  await mkdir(join(home, "policies"), { recursive: true });
  await writeFile(
    join(home, "policies", "bench.cedar"),
    `permit(principal in Group::"bench", action in [Action::"sql:select", Action::"sql:session", Action::"sql:set"], resource in Connection::"sb");\n`,
  );
  let store: PgCluster | undefined;
  let service: ServiceProcess | undefined;
  const stopAll = async () => {
    await service?.stop(20_000);
    await store?.stop().catch(() => undefined);
  };
  try {
    let ready: (() => Promise<boolean>) | undefined;
    if (workers > 1) {
      store = await startPgCluster({ auth: "scram-sha-256" });
      await store.query(
        `CREATE DATABASE latch_store OWNER ${store.appUser} ENCODING 'UTF8' TEMPLATE template0`,
      );
      ready = await workersReady(
        { port: store.port, user: store.appUser, password: store.appPassword, database: "latch_store" },
        workers,
      );
    }
    const port = await freePort();
    const config = join(home, "latch.yaml");
    await writeFile(
      config,
      [
        `listen: { mysql: "127.0.0.1:${port}", admin: "127.0.0.1:${await freePort()}" }`,
        `data_dir: ${home}/data`,
        ...(store === undefined
          ? []
          : [
              `store: { url: "postgres://${store.appUser}@127.0.0.1:${store.port}/latch_store", password: { env: BENCH_STORE_PASSWORD } }`,
            ]),
        "tls: { allow_plaintext: true }",
        "identity: { dev_issuer: true }",
        `policies: ${home}/policies`,
        "log_level: warn",
        "connections:",
        `  sb: { type: mysql, upstream: "mysql://root@127.0.0.1:${upstream.port}/${upstream.database}" }`,
        "",
      ].join("\n"),
    );
    const env = { ...process.env, BENCH_STORE_PASSWORD: store?.appPassword ?? "" };
    // BENCH_MYSQL_CPU_PROF=<dir>: the gateway writes a V8 CPU profile there when it stops.
    const profile = process.env.BENCH_MYSQL_CPU_PROF;
    const nodeArgs = profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [];
    const serveArgs = workers > 1 ? ["--workers", String(workers)] : [];
    const started = spawnService(
      process.execPath,
      [...nodeArgs, LATCH_CLI, "serve", "--config", config, ...serveArgs],
      {
        env,
      },
    );
    service = started;
    await waitForPort(port, started, 30_000);
    for (const deadline = Date.now() + 60_000; ready !== undefined && !(await ready()); ) {
      if (Date.now() > deadline) throw new Error(`workers not ready within 60 s:\n${started.outputTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const args = ["token", "--config", config, "--sub", "sysbench", "--group", "bench", "--ttl", "1h"];
    const token = (await run(process.execPath, [LATCH_CLI, ...args], { env })).stdout.trim();
    return { service: started, port, token, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw new Error(`latch (mysql, ${workers} worker(s)): ${(error as Error).message}`);
  }
}
