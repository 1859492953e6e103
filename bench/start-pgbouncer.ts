import { execFileSync } from "node:child_process";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/support/free-port.js";
import { spawnService, waitForPort } from "./service-process.js";

export interface PgBouncerOptions {
  pgbouncerPath: string;
  upstreamPort: number;
  upstreamUser: string;
  upstreamPassword: string;
  database: string;
  /** Serve client TLS with a fresh self-signed certificate (`client_tls_sslmode = allow`: plaintext still works). */
  tls?: boolean;
}

export interface RunningPgBouncer {
  port: number;
  /** The process started (runuser when running as root, PgBouncer its child): sample its whole tree. */
  pid: number;
  stop(): Promise<void>;
}

/**
 * PgBouncer in session mode in front of the bench cluster, with SCRAM on both sides, as the baseline a
 * plain connection pooler sets for a proxy in the data path. Clients use the upstream role and password.
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<RunningPgBouncer> {
  const dir = await mkdtemp(join(tmpdir(), "latch-bench-pgbouncer-"));
  const port = await freePort();
  const iniFile = join(dir, "pgbouncer.ini");
  const userlist = join(dir, "userlist.txt");
  const ini = [
    "[databases]",
    `${options.database} = host=127.0.0.1 port=${options.upstreamPort} dbname=${options.database}`,
    "",
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    "unix_socket_dir =",
    "auth_type = scram-sha-256",
    `auth_file = ${userlist}`,
    "pool_mode = session",
    "max_client_conn = 400",
    // Session mode holds a server connection per client: room for the 128-client run.
    "default_pool_size = 150",
    "ignore_startup_parameters = extra_float_digits",
    `logfile = ${join(dir, "pgbouncer.log")}`,
    `pidfile = ${join(dir, "pgbouncer.pid")}`,
    // Connection logging on every connect would weigh on the connect-latency measurement.
    "log_connections = 0",
    "log_disconnections = 0",
    ...(options.tls
      ? [
          "client_tls_sslmode = allow",
          // TLS is measured on the client side only; the upstream leg stays plaintext, as Latch's does.
          "server_tls_sslmode = disable",
          `client_tls_cert_file = ${join(dir, "server.crt")}`,
          `client_tls_key_file = ${join(dir, "server.key")}`,
        ]
      : []),
    "",
  ].join("\n");
  // A plain-text password lets PgBouncer answer the client's SCRAM and run its own SCRAM upstream.
  const quote = (value: string) => `"${value.replaceAll('"', '""')}"`;
  await writeFile(iniFile, ini);
  const tlsFiles = options.tls ? [join(dir, "server.crt"), join(dir, "server.key")] : [];
  if (options.tls) {
    // prettier-ignore
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        tlsFiles[1]!,
        "-out",
        tlsFiles[0]!,
      ],
      { stdio: "ignore" },
    );
  }
  await writeFile(userlist, `${quote(options.upstreamUser)} ${quote(options.upstreamPassword)}\n`, {
    mode: 0o600,
  });

  // PgBouncer refuses to run as root.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    for (const path of [dir, iniFile, userlist, ...tlsFiles]) await chown(path, uid, gid);
  }
  const service = asRoot
    ? spawnService("runuser", ["-u", "postgres", "--", options.pgbouncerPath, iniFile])
    : spawnService(options.pgbouncerPath, [iniFile]);
  const stop = async () => {
    await service.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, service, 10_000);
  } catch (error) {
    await stop();
    throw new Error(`pgbouncer ${(error as Error).message}`);
  }
  return { port, pid: service.child.pid!, stop };
}
