import { type ChildProcess, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { devIssuerPath, loadOrCreateDevIssuer } from "../../src/identity/dev-issuer.js";
import type { AuditEvent } from "../../src/store/store.js";
import { freePort } from "./free-port.js";
import { LATCH_CLI, type LatchServeOptions, startLatchServe } from "./latch-serve.js";
import type { PgCluster } from "./pg-cluster.js";

const execFileAsync = promisify(execFile);

/** Secrets reach the replicas and the CLI through these variables, never through a file. */
const STORE_PASSWORD_ENV = "LATCH_REPLICAS_STORE_PW";
const APP_PASSWORD_ENV = "LATCH_REPLICAS_APP_PW";

export interface Replica {
  readonly name: string;
  /** Its latch.yaml, for `latch token`, `latch audit ...` and `latch serve`. */
  readonly config: string;
  readonly dataDir: string;
  readonly pgPort: number;
  readonly adminUrl: string;
  /** The running `latch serve`, once started. */
  readonly process: ChildProcess | undefined;
  /** Starts `latch serve` (options: extra arguments such as --workers, what "up" looks like in its log). */
  start(options?: LatchServeOptions): Promise<void>;
  /** Sends the signal and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** A node-postgres client through this replica (plaintext, the token as password), errors swallowed. */
  connect(token: string, user: string): Promise<pg.Client>;
}

export interface ReplicaSet {
  /** The store database every replica shares (on the store cluster; database "app" on the target cluster). */
  readonly storeDatabase: string;
  /** Adds a replica with its own data_dir and ports; it is not started. */
  add(name: string): Promise<Replica>;
  /** A dev token any replica accepts: they all hold the same dev issuer key. */
  token(subject: string, groups: readonly string[]): Promise<string>;
  /** Runs `latch ARGS` with the store password in its environment. */
  cli(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/**
 * Compiled `latch serve` replicas sharing one PostgreSQL store database on `cluster`, each guarding the
 * database "app" of `options.target` (default: the same cluster) as connection "app" with `policy`. A separate
 * target lets a test stop the store while the target keeps running. The dev issuer's key lives in data_dir
 * (dev-issuer.json), so one key is made and copied into every replica's data_dir: a token minted through any
 * of them is accepted by all, as a real IdP's would be.
 */
export async function createReplicaSet(
  cluster: PgCluster,
  options: {
    policy: string;
    approvals?: Record<string, unknown>;
    target?: PgCluster;
    /** The `console` section of every replica (sign-in providers). */
    console?: Record<string, unknown>;
  },
): Promise<ReplicaSet> {
  const target = options.target ?? cluster;
  const root = mkdtempSync(path.join(os.tmpdir(), "latch-replicas-"));
  const policies = path.join(root, "policies");
  mkdirSync(policies);
  writeFileSync(path.join(policies, "policy.cedar"), options.policy);
  const issuerDir = path.join(root, "issuer");
  await loadOrCreateDevIssuer(issuerDir);

  const storeDatabase = "latch_store";
  const storePassword = randomBytes(18).toString("base64url");
  await cluster.query(`CREATE ROLE latch_store LOGIN PASSWORD '${storePassword}'`);
  await cluster.query(
    `CREATE DATABASE ${storeDatabase} OWNER latch_store ENCODING 'UTF8' TEMPLATE template0`,
  );
  const env = {
    [STORE_PASSWORD_ENV]: storePassword,
    [APP_PASSWORD_ENV]: target.appPassword,
  };

  const replicas: Replica[] = [];
  let firstConfig: string | undefined;

  const add = async (name: string): Promise<Replica> => {
    const dataDir = path.join(root, name);
    mkdirSync(dataDir, { mode: 0o700 });
    copyFileSync(devIssuerPath(issuerDir), devIssuerPath(dataDir));
    const pgPort = await freePort();
    const adminPort = await freePort();
    const config = path.join(root, `${name}.yaml`);
    writeFileSync(
      config,
      `listen: { postgres: "127.0.0.1:${pgPort}", admin: "127.0.0.1:${adminPort}" }
data_dir: ${dataDir}
store:
  url: postgres://latch_store@127.0.0.1:${cluster.port}/${storeDatabase}
  password: { env: ${STORE_PASSWORD_ENV} }
  pool_size: 4
identity: { dev_issuer: true }
tls: { allow_plaintext: true }
policies: ${policies}
log_level: info
approvals: ${JSON.stringify({ mode: "hold", timeout: "20s", max_grant: "10m", ...options.approvals })}
${options.console === undefined ? "" : `console: ${JSON.stringify(options.console)}\n`}connections:
  app:
    type: postgres
    upstream: postgres://${target.appUser}@127.0.0.1:${target.port}/${target.appDatabase}
    password: { env: ${APP_PASSWORD_ENV} }
`,
    );
    firstConfig ??= config;
    let child: ChildProcess | undefined;
    const replica: Replica = {
      name,
      config,
      dataDir,
      pgPort,
      adminUrl: `http://127.0.0.1:${adminPort}`,
      get process() {
        return child;
      },
      async start(serveOptions) {
        child = await startLatchServe(config, env, serveOptions);
      },
      async kill(signal = "SIGTERM") {
        const running = child;
        if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
        const exited = new Promise((resolve) => running.once("exit", resolve));
        running.kill(signal);
        await exited;
      },
      async connect(token, user) {
        const client = new pg.Client({
          host: "127.0.0.1",
          port: pgPort,
          user,
          database: "app",
          password: token,
          ssl: false,
        });
        client.on("error", () => undefined); // a session ended by the gateway is observed through 'end'
        await client.connect();
        return client;
      },
    };
    replicas.push(replica);
    return replica;
  };

  const cli = async (args: readonly string[]) => {
    try {
      const { stdout, stderr } = await execFileAsync(process.execPath, [LATCH_CLI, ...args], {
        env: { ...process.env, ...env },
        maxBuffer: 64 << 20,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? 1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
    }
  };

  return {
    storeDatabase,
    add,
    async token(subject, groups) {
      if (firstConfig === undefined) throw new Error("add a replica before minting tokens");
      const args = ["token", "--config", firstConfig, "--sub", subject, "--ttl", "30m"];
      for (const group of groups) args.push("--group", group);
      const result = await cli(args);
      if (result.code !== 0) throw new Error(`latch token failed: ${result.stderr}`);
      return result.stdout.trim();
    },
    cli,
    async stop() {
      await Promise.all(replicas.map((replica) => replica.kill("SIGKILL")));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * Row numbers of every allowed `INSERT INTO load_rows ... VALUES (n)` operation event in the store, read through
 * `latch audit search` on `replica`'s config, page by page (at most 1000 a page).
 */
export async function auditedLoadRows(set: ReplicaSet, replica: Replica): Promise<Set<number>> {
  const audited = new Set<number>();
  for (let after = 0; ; ) {
    const page = await set.cli([
      "audit",
      "search",
      "--config",
      replica.config,
      "--kind",
      "operation",
      "--decision",
      "allow",
      "--text",
      "INSERT INTO load_rows",
      "--after",
      String(after),
      "--limit",
      "1000",
      "--json",
    ]);
    if (page.code !== 0) throw new Error(`latch audit search failed: ${page.stderr}`);
    const events = JSON.parse(page.stdout) as AuditEvent[];
    for (const event of events) {
      const text = (event.data as { statements: { text: string }[] }).statements[0]!.text;
      audited.add(Number(/VALUES \((\d+)\)/.exec(text)![1]));
    }
    if (events.length < 1000) return audited;
    after = events.at(-1)!.seq;
  }
}
