import { type ChildProcess, execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devIssuerPath, loadOrCreateDevIssuer } from "../../src/identity/dev-issuer.js";
import { freePort } from "../support/free-port.js";
import { LATCH_CLI, startLatchServe } from "../support/latch-serve.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

/**
 * Issue 11: a replica that dies (kill -9) is found gone by a survivor through its silent heartbeat: the
 * survivor ends the dead replica's sessions on the record (session_end, gateway_lost) and drops the per-session
 * upstream role it left behind. Before that, any replica lists every replica's live sessions.
 */
const run = promisify(execFile);
let cluster: PgCluster;
let root: string;
const children: ChildProcess[] = [];
const replicas: { config: string; port: number; admin: string }[] = [];

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "scram-sha-256" });
  await cluster.query(`
    CREATE ROLE latch_admin LOGIN CREATEROLE PASSWORD 'admin-pw-for-tests';
    GRANT pg_signal_backend TO latch_admin;
    CREATE ROLE app_readers NOLOGIN;
    GRANT CONNECT ON DATABASE app TO app_readers;`);
  await cluster.query("CREATE DATABASE latch_store OWNER app_user ENCODING 'UTF8' TEMPLATE template0");
  root = mkdtempSync(path.join(os.tmpdir(), "latch-gone-"));
  mkdirSync(path.join(root, "policies"));
  writeFileSync(
    path.join(root, "policies", "p.cedar"),
    'permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");\n',
  );
  await loadOrCreateDevIssuer(path.join(root, "issuer"));
  for (const name of ["a", "b"]) {
    const dataDir = path.join(root, name);
    mkdirSync(dataDir, { mode: 0o700 });
    copyFileSync(devIssuerPath(path.join(root, "issuer")), devIssuerPath(dataDir));
    const port = await freePort();
    const adminPort = await freePort();
    const config = path.join(root, `${name}.yaml`);
    writeFileSync(
      config,
      `listen: { postgres: "127.0.0.1:${port}", admin: "127.0.0.1:${adminPort}" }
data_dir: ${dataDir}
store: { url: "postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/latch_store", password: { env: GONE_STORE_PW }, pool_size: 3 }
identity: { dev_issuer: true, admin_groups: [admins] }
tls: { allow_plaintext: true }
policies: ${path.join(root, "policies")}
health: { heartbeat_interval: 200ms, gateway_gone_after: 1500ms }
connections:
  app:
    type: postgres
    upstream: postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}
    ephemeral: { admin_user: latch_admin, admin_password: { env: GONE_ADMIN_PW }, grant_roles: [app_readers], ttl: 1h }
`,
    );
    replicas.push({ config, port, admin: `http://127.0.0.1:${adminPort}` });
  }
}, 60_000);
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await cluster?.stop();
  if (root !== undefined) rmSync(root, { recursive: true, force: true });
}, 60_000);

const env = () => ({ GONE_STORE_PW: cluster.appPassword, GONE_ADMIN_PW: "admin-pw-for-tests" });
const token = async (sub: string, group: string) =>
  (
    await run(process.execPath, [
      LATCH_CLI,
      "token",
      "--config",
      replicas[0]!.config,
      "--sub",
      sub,
      "--group",
      group,
    ])
  ).stdout.trim();
const ephemeralRoles = async () =>
  (
    await cluster.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'latch\\_gone%' ORDER BY 1")
  ).rows.map((row: { rolname: string }) => row.rolname);

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a block whose announcement was lost", () => {
  it("still ends the principal's open session on a replica, by its block sweep", async () => {
    const [a] = replicas as [(typeof replicas)[0]];
    const aProcess = await startLatchServe(a.config, env());
    children.push(aProcess);
    const agent = await token("swept-bot", "agents");
    const client = new pg.Client({
      host: "127.0.0.1",
      port: a.port,
      user: "swept-bot",
      database: "app",
      password: agent,
    });
    client.on("error", () => undefined);
    await client.connect();
    const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
    // Written to the store directly: no cluster event announces it.
    const store = new pg.Client({
      connectionString: cluster.superuserUrl.replace(/\/postgres$/, "/latch_store"),
    });
    await store.connect();
    await store.query(
      "INSERT INTO latch_principal_blocks (principal, blocked_by, reason, blocked_at) VALUES ('swept-bot', 'test', 'no event', 0)",
    );
    await store.end();
    const startedAt = Date.now();
    await ended;
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    aProcess.kill("SIGTERM");
    await new Promise((resolve) => aProcess.once("exit", resolve));
  }, 60_000);
});

describe("a replica that dies", () => {
  it("is found gone by a survivor: its sessions end on the record and its upstream role is dropped", async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    children.push(await startLatchServe(a.config, env()));
    const bProcess = await startLatchServe(b.config, env());
    children.push(bProcess);
    const agent = await token("gone-bot", "agents");
    const admin = await token("ops", "admins");
    const client = new pg.Client({
      host: "127.0.0.1",
      port: b.port,
      user: "gone-bot",
      database: "app",
      password: agent,
    });
    client.on("error", () => undefined);
    await client.connect();
    expect((await client.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    const [role] = await ephemeralRoles();
    expect(role).toMatch(/^latch_gone_bot_[0-9a-f]{8}$/);

    // Any replica lists every replica's sessions, with the replica serving each.
    const live = async () =>
      (
        (await (
          await fetch(`${a.admin}/api/sessions/live`, { headers: { authorization: `Bearer ${admin}` } })
        ).json()) as {
          sessions: { id: string; subject: string; gatewayId: string }[];
        }
      ).sessions;
    const before = await until(live, (sessions) => sessions.length === 1);
    expect(before).toMatchObject([{ subject: "gone-bot" }]);
    const sessionId = before[0]!.id;

    bProcess.kill("SIGKILL");
    const killedAt = Date.now();
    await new Promise((resolve) => bProcess.once("exit", resolve));

    expect(await until(ephemeralRoles, (roles) => roles.length === 0)).toEqual([]);
    console.log(`dead replica's role dropped by the survivor ${Date.now() - killedAt} ms after kill -9`);
    expect(await until(live, (sessions) => sessions.length === 0)).toEqual([]);
    const events = JSON.parse(
      (
        await run(
          process.execPath,
          [LATCH_CLI, "audit", "search", "--json", "--config", a.config, "--session", sessionId],
          {
            env: { ...process.env, ...env() },
          },
        )
      ).stdout,
    ) as { kind: string; data: Record<string, unknown> }[];
    expect(events.map((event) => event.kind)).toContain("session_end");
    expect(events.find((event) => event.kind === "session_end")?.data).toMatchObject({
      reason: "gateway_lost",
    });
    expect(events.find((event) => event.kind === "ephemeral_role_dropped")).toBeDefined();
    await client.end().catch(() => undefined);
  }, 60_000);
});
