import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { importJWK, SignJWT } from "jose";
import pg from "pg";
import { pino } from "pino";
import { configSchema } from "../../src/config/schema.js";
import {
  DEV_ALGORITHM,
  DEV_AUDIENCE,
  DEV_ISSUER,
  loadOrCreateDevIssuer,
  mintDevToken,
} from "../../src/identity/dev-issuer.js";
import { type RunningGateway, startGateway } from "../../src/server/start-gateway.js";
import type { PgCluster } from "./pg-cluster.js";

export interface TestGateway {
  readonly gateway: RunningGateway;
  readonly port: number;
  readonly adminUrl: string;
  readonly dataDir: string;
  token(subject: string, groups: readonly string[], ttlSeconds?: number): Promise<string>;
  /** A correctly signed dev token whose exp lies `secondsAgo` in the past. */
  expiredToken(subject: string, groups: readonly string[], secondsAgo: number): Promise<string>;
  /** A node-postgres client config for the gateway (TLS, token as password). */
  clientConfig(token: string, database?: string): pg.ClientConfig;
  connect(token: string, database?: string): Promise<pg.Client>;
  /** libpq connection string for psql/pgbench (password via PGPASSWORD). */
  conninfo(database?: string, user?: string): string;
  stop(): Promise<void>;
}

export const TEST_POLICY = `
@id("agents-read")
permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");
@id("agents-session")
permit(principal in Group::"agents", action in [Action::"sql:session", Action::"sql:set"], resource in Connection::"app");
@id("writers-write")
permit(principal in Group::"writers", action in Action::"sql:write", resource in Connection::"app");
@id("writers-prepare")
permit(principal in Group::"writers", action in [Action::"sql:prepare", Action::"sql:execute"], resource in Connection::"app");
@id("no-secrets")
forbid(principal, action, resource == Table::"app/public.secrets");
`;

/**
 * Starts an in-process gateway in front of `cluster` with one connection named "app" and the dev issuer.
 * Without a cluster there is no "app" connection (and no PostgreSQL listener): pass connections in overrides.
 */
export async function startTestGateway(
  cluster: PgCluster | undefined,
  options: {
    policy?: string;
    overrides?: Record<string, unknown>;
    passwordEnv?: string;
    masking?: string[];
    /** Reuse the data_dir of a gateway that was stopped with `gateway.stop()` (a restart). */
    dataDir?: string;
  } = {},
): Promise<TestGateway> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "latch-test-"));
  const policies = path.join(dataDir, "policies");
  mkdirSync(policies, { recursive: true });
  writeFileSync(path.join(policies, "test.cedar"), options.policy ?? TEST_POLICY);
  const passwordEnv = options.passwordEnv ?? `LATCH_TEST_PW_${cluster?.port ?? 0}`;
  if (cluster !== undefined) process.env[passwordEnv] = cluster.appPassword;
  const config = configSchema.parse({
    listen: { postgres: "127.0.0.1:0", admin: "127.0.0.1:0" },
    data_dir: dataDir,
    identity: { dev_issuer: true },
    policies,
    log_level: "silent",
    connections:
      cluster === undefined
        ? {}
        : {
            app: {
              type: "postgres",
              upstream: `postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}`,
              password: { env: passwordEnv },
              labels: { env: "test" },
              masking: options.masking ?? [],
            },
          },
    ...options.overrides,
  });
  const gateway = await startGateway(
    { config, file: undefined, baseDir: dataDir },
    { log: pino({ level: "silent" }) },
  );
  const port = gateway.listeners.get("postgres")?.port ?? 0;
  const clientConfig = (token: string, database = "app"): pg.ClientConfig => ({
    host: "127.0.0.1",
    port,
    user: "agent",
    database,
    password: token,
    ssl: { rejectUnauthorized: false },
  });
  return {
    gateway,
    port,
    adminUrl: `http://127.0.0.1:${gateway.adminAddress.port}`,
    dataDir,
    token: (subject, groups, ttlSeconds = 600) =>
      mintDevToken(dataDir, { subject, groups: [...groups], ttlSeconds }),
    async expiredToken(subject, groups, secondsAgo) {
      const stored = await loadOrCreateDevIssuer(dataDir);
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ groups: [...groups] })
        .setProtectedHeader({ alg: DEV_ALGORITHM, kid: stored.kid })
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setSubject(subject)
        .setIssuedAt(now - secondsAgo - 600)
        .setExpirationTime(now - secondsAgo)
        .sign(await importJWK(stored.privateJwk, DEV_ALGORITHM));
    },
    clientConfig,
    async connect(token, database = "app") {
      const client = new pg.Client(clientConfig(token, database));
      client.on("error", () => {});
      await client.connect();
      return client;
    },
    conninfo: (database = "app", user = "agent") =>
      `host=127.0.0.1 port=${port} dbname=${database} user=${user} sslmode=require connect_timeout=10`,
    async stop() {
      await gateway.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
