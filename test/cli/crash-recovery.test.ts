import { type ChildProcess, execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.js";
import { LATCH_CLI, startLatchServe } from "../support/latch-serve.js";
import { type PgCluster, startPgCluster } from "../support/pg-cluster.js";

// kill -9 of a real `latch serve` mid-session: the per-session role it created is dropped by the reaper when
// the gateway starts again on the same data_dir.
const run = promisify(execFile);
const CLI = LATCH_CLI;
let cluster: PgCluster;
let dir: string;
let config: string;
let port: number;
const children: ChildProcess[] = [];

async function serve(): Promise<ChildProcess> {
  const child = await startLatchServe(config, { APP_ADMIN_PASSWORD: "admin-pw-for-tests" });
  children.push(child);
  return child;
}

const ephemeralRoles = async () =>
  (
    await cluster.query(
      "SELECT rolname FROM pg_roles WHERE rolname LIKE 'latch\\_%' AND rolname <> 'latch_admin' ORDER BY 1",
    )
  ).rows.map((r: { rolname: string }) => r.rolname);

beforeAll(async () => {
  cluster = await startPgCluster({ auth: "scram-sha-256" });
  await cluster.query(`
    CREATE ROLE latch_admin LOGIN CREATEROLE PASSWORD 'admin-pw-for-tests';
    GRANT pg_signal_backend TO latch_admin;
    CREATE ROLE app_readers NOLOGIN;
    GRANT CONNECT ON DATABASE app TO app_readers;`);
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-crash-"));
  mkdirSync(path.join(dir, "policies"));
  writeFileSync(
    path.join(dir, "policies", "p.cedar"),
    'permit(principal in Group::"agents", action in Action::"sql:read", resource in Connection::"app");\n',
  );
  port = await freePort();
  config = path.join(dir, "latch.yaml");
  writeFileSync(
    config,
    `listen: { postgres: "127.0.0.1:${port}", admin: "127.0.0.1:${await freePort()}" }
data_dir: ./data
identity: { dev_issuer: true }
policies: ./policies
connections:
  app:
    type: postgres
    upstream: postgres://${cluster.appUser}@127.0.0.1:${cluster.port}/${cluster.appDatabase}
    ephemeral: { admin_user: latch_admin, admin_password: { env: APP_ADMIN_PASSWORD }, grant_roles: [app_readers], ttl: 1h }
`,
  );
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("crash recovery", () => {
  it("drops the per-session role of a session that outlived a kill -9 of the gateway", async () => {
    const first = await serve();
    const token = (
      await run(process.execPath, [
        CLI,
        "token",
        "--config",
        config,
        "--sub",
        "crash-bot",
        "--group",
        "agents",
      ])
    ).stdout.trim();
    const client = new pg.Client({
      host: "127.0.0.1",
      port,
      user: "crash-bot",
      database: "app",
      password: token,
      ssl: { rejectUnauthorized: false },
    });
    client.on("error", () => {});
    await client.connect();
    expect((await client.query("SELECT 1 AS one")).rows[0].one).toBe(1);
    const during = await ephemeralRoles();
    expect(during).toHaveLength(1);
    expect(during[0]).toMatch(/^latch_crash_bot_[0-9a-f]{8}$/);

    first.kill("SIGKILL");
    await new Promise((resolve) => first.once("exit", resolve));
    await client.end().catch(() => undefined);
    expect(await ephemeralRoles()).toEqual(during); // nobody cleaned up: the process died

    await serve(); // the reaper runs at start-up
    expect(await ephemeralRoles()).toEqual([]);
  });
});
