import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./free-port.js";

const execFileAsync = promisify(execFile);

/** Debian's versioned binaries (initdb, pg_ctl, pgbench); override with LATCH_PG_BIN for other layouts. */
export const PG_BIN_DIR = process.env.LATCH_PG_BIN ?? "/usr/lib/postgresql/15/bin";

export type PgAuthMethod = "scram-sha-256" | "md5" | "trust";

export interface PgClusterOptions {
  /** How TCP clients on 127.0.0.1 authenticate; default scram-sha-256. */
  auth?: PgAuthMethod;
  /** Serve TLS with a freshly generated self-signed certificate (CN and SAN 127.0.0.1). */
  ssl?: boolean;
  /** Extra postgresql.conf settings, e.g. { shared_buffers: "256MB" } for benchmarks. */
  settings?: Record<string, string>;
}

export interface PgCluster {
  host: "127.0.0.1";
  port: number;
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  superuserUrl: string;
  /** A non-superuser LOGIN role with a password, owning database "app". */
  appUser: string;
  appPassword: string;
  appDatabase: string;
  /** PEM file of the server certificate when started with ssl: true (usable as a CA for verify-full). */
  sslCertFile?: string;
  /** Runs as superuser over the cluster's unix socket (trust), so it works whatever `auth` is. */
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  stop(): Promise<void>;
  dataDir: string;
}

/** Clusters still running, stopped synchronously if the process exits without calling stop(). */
const running = new Map<string, () => void>();
let exitHookInstalled = false;

/**
 * Starts a throwaway PostgreSQL cluster listening only on 127.0.0.1 on a free port, with a password-holding
 * app role, so tests exercise real SCRAM / md5 / TLS handshakes instead of the machine's trust-auth server.
 */
export async function startPgCluster(options: PgClusterOptions = {}): Promise<PgCluster> {
  const auth = options.auth ?? "scram-sha-256";
  if (!existsSync(join(PG_BIN_DIR, "initdb"))) {
    throw new Error(
      `PostgreSQL server binaries not found in ${PG_BIN_DIR}: apt-get install postgresql-15 (or set LATCH_PG_BIN)`,
    );
  }
  const owner = await clusterOwner();
  const baseDir = await mkdtemp(join(tmpdir(), "latch-pg-"));
  const dataDir = join(baseDir, "data");
  try {
    if (owner) await chown(baseDir, owner.uid, owner.gid);
    await newDataDir(owner, dataDir);
    const sslCertFile = options.ssl ? await writeSelfSignedCert(baseDir, owner) : undefined;
    await writeOwnedFile(
      join(dataDir, "pg_hba.conf"),
      ["local all postgres trust", `host all all 127.0.0.1/32 ${auth}`, ""].join("\n"),
      owner,
    );
    const port = await startServer({
      baseDir,
      dataDir,
      auth,
      sslCertFile,
      owner,
      settings: options.settings,
    });
    const stopSync = () => stopServerSync(owner, dataDir, baseDir);
    running.set(dataDir, stopSync);
    installExitHook();

    const superuserPassword = randomSecret();
    const appPassword = randomSecret();
    // The unix socket with trust auth is the superuser's way in, independent of the TCP auth under test.
    const pool = new pg.Pool({ host: baseDir, port, user: "postgres", database: "postgres", max: 2 });
    pool.on("error", () => {}); // idle clients die with the server on stop(); nothing to report then
    const query = (sql: string, params?: unknown[]) => pool.query(sql, params);
    try {
      // Passwords are hashed with password_encryption, which postgresql.conf set per `auth`.
      await query(`ALTER ROLE postgres PASSWORD ${literal(superuserPassword)}`);
      await query(`CREATE ROLE app_user LOGIN PASSWORD ${literal(appPassword)}`);
      await query("CREATE DATABASE app OWNER app_user");
    } catch (error) {
      await pool.end().catch(() => {});
      throw error;
    }

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        running.delete(dataDir);
        await pool.end().catch(() => {});
        await runAsOwner(owner, join(PG_BIN_DIR, "pg_ctl"), ["stop", "-D", dataDir, "-m", "immediate"]).catch(
          () => {}, // already gone: the goal state is reached either way
        );
        await rm(baseDir, { recursive: true, force: true });
      })();
      return stopped;
    };

    return {
      host: "127.0.0.1",
      port,
      superuserUrl: `postgres://postgres:${encodeURIComponent(superuserPassword)}@127.0.0.1:${port}/postgres`,
      appUser: "app_user",
      appPassword,
      appDatabase: "app",
      ...(sslCertFile ? { sslCertFile } : {}),
      query,
      stop,
      dataDir,
    };
  } catch (error) {
    running.get(dataDir)?.();
    running.delete(dataDir);
    await rm(baseDir, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
}

/**
 * Stops the server of a running cluster as its owner (`pg_ctl stop -m MODE -w`), leaving its data and port in
 * place so that startPgServer can bring it back; stop() still removes it for good.
 */
export async function stopPgServer(
  cluster: Pick<PgCluster, "dataDir">,
  mode: "smart" | "fast" | "immediate" = "fast",
): Promise<void> {
  await runAsOwner(await clusterOwner(), join(PG_BIN_DIR, "pg_ctl"), [
    "stop",
    "-D",
    cluster.dataDir,
    "-m",
    mode,
    "-w",
  ]);
}

/** Starts a cluster stopped by stopPgServer again, on the same port; resolves once it accepts connections. */
export async function startPgServer(cluster: Pick<PgCluster, "dataDir">): Promise<void> {
  // startPgCluster keeps the data directory and the log in one base directory.
  const logFile = join(dirname(cluster.dataDir), "postgres.log");
  await runAsOwner(await clusterOwner(), join(PG_BIN_DIR, "pg_ctl"), [
    "start",
    "-D",
    cluster.dataDir,
    "-l",
    logFile,
    "-w",
    "-t",
    "30",
  ]);
}

/** Set by test/support/pg-template.ts: a data directory initdb made once for the whole run. */
export const PG_TEMPLATE_ENV = "LATCH_TEST_PG_TEMPLATE";

/**
 * initdb, or a copy of the run's template (same initdb, made once: initdb costs ~0.9 s of CPU, a copy ~0.25 s).
 * pg_hba.conf and the auth settings are written after either way, so a copy is the cluster initdb would make.
 */
async function newDataDir(owner: Owner | undefined, dataDir: string): Promise<void> {
  const template = process.env[PG_TEMPLATE_ENV];
  if (template !== undefined && existsSync(join(template, "PG_VERSION"))) {
    await runAsOwner(owner, "cp", ["-a", template, dataDir]);
  } else {
    await initdb(owner, dataDir);
  }
}

/** A new data directory with the test clusters' settings (pg_hba.conf is replaced by startPgCluster). */
export async function initdb(owner: Owner | undefined, dataDir: string): Promise<void> {
  await runAsOwner(owner, join(PG_BIN_DIR, "initdb"), [
    "-D",
    dataDir,
    "-U",
    "postgres",
    "--auth-local=trust",
    "--auth-host=trust",
    "--encoding=UTF8",
    "--locale=C",
    "--no-sync",
    "--no-instructions",
  ]);
}

interface ServerLayout {
  baseDir: string;
  dataDir: string;
  auth: PgAuthMethod;
  sslCertFile: string | undefined;
  owner: Owner | undefined;
  settings: Record<string, string> | undefined;
}

/** Picks a free port and starts; another process may take the port in between, so that case is retried. */
async function startServer(layout: ServerLayout): Promise<number> {
  const conf = join(layout.dataDir, "postgresql.conf");
  const initdbConf = await readFile(conf, "utf8");
  const logFile = join(layout.baseDir, "postgres.log");
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const settings: Record<string, string> = {
      listen_addresses: "'127.0.0.1'",
      port: String(port),
      unix_socket_directories: `'${layout.baseDir}'`,
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off",
      shared_buffers: "16MB",
      max_connections: "100",
      password_encryption: layout.auth === "md5" ? "md5" : "scram-sha-256",
      ...(layout.sslCertFile
        ? {
            ssl: "on",
            ssl_cert_file: `'${layout.sslCertFile}'`,
            ssl_key_file: `'${join(layout.baseDir, "server.key")}'`,
          }
        : {}),
      ...layout.settings,
    };
    const extra = Object.entries(settings).map(([name, value]) => `${name} = ${value}`);
    await writeOwnedFile(conf, `${initdbConf}\n# latch test cluster\n${extra.join("\n")}\n`, layout.owner);
    try {
      await runAsOwner(layout.owner, join(PG_BIN_DIR, "pg_ctl"), [
        "start",
        "-D",
        layout.dataDir,
        "-l",
        logFile,
        "-w",
        "-t",
        "30",
      ]);
      return port;
    } catch (error) {
      const log = await readFile(logFile, "utf8").catch(() => "");
      if (attempt < 3 && /could not bind|Address already in use/i.test(log)) continue;
      throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n--- ${logFile} ---\n${log}`);
    }
  }
}

async function writeSelfSignedCert(baseDir: string, owner: Owner | undefined): Promise<string> {
  const certFile = join(baseDir, "server.crt");
  const keyFile = join(baseDir, "server.key");
  // EC keys generate in milliseconds, RSA-2048 in up to a second.
  await execFileAsync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  ]);
  // PostgreSQL refuses a key readable by group or others.
  await chmod(keyFile, 0o600);
  if (owner) {
    await chown(keyFile, owner.uid, owner.gid);
    await chown(certFile, owner.uid, owner.gid);
  }
  return certFile;
}

export interface Owner {
  user: string;
  uid: number;
  gid: number;
}

/** initdb refuses root, so as root the cluster belongs to the `postgres` OS user; otherwise to the caller. */
export async function clusterOwner(): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = async (flag: string) => Number((await execFileAsync("id", [flag, "postgres"])).stdout.trim());
  try {
    return { user: "postgres", uid: await id("-u"), gid: await id("-g") };
  } catch {
    throw new Error(
      "running as root needs a `postgres` OS user to own test clusters (apt-get install postgresql-15)",
    );
  }
}

async function runAsOwner(owner: Owner | undefined, command: string, args: string[]): Promise<void> {
  const [file, argv] = owner ? ["runuser", ["-u", owner.user, "--", command, ...args]] : [command, args];
  try {
    await execFileAsync(file, argv, { env: { ...process.env, LC_ALL: "C" } });
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`${[file, ...argv].join(" ")} failed: ${stderr || stdout || (error as Error).message}`);
  }
}

function stopServerSync(owner: Owner | undefined, dataDir: string, baseDir: string): void {
  const args = ["stop", "-D", dataDir, "-m", "immediate"];
  const pgCtl = join(PG_BIN_DIR, "pg_ctl");
  try {
    if (owner) execFileSync("runuser", ["-u", owner.user, "--", pgCtl, ...args], { stdio: "ignore" });
    else execFileSync(pgCtl, args, { stdio: "ignore" });
  } catch {
    // not running any more
  }
  try {
    execFileSync("rm", ["-rf", baseDir], { stdio: "ignore" });
  } catch {
    // best effort at exit
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const stopSync of running.values()) stopSync();
    running.clear();
  });
}

async function writeOwnedFile(path: string, text: string, owner: Owner | undefined): Promise<void> {
  await writeFile(path, text);
  if (owner) await chown(path, owner.uid, owner.gid);
}

function randomSecret(): string {
  return randomBytes(18).toString("base64url");
}

/** Quotes a string literal for the few DDL statements that cannot take bind parameters. */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
