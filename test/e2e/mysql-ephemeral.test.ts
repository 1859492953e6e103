/**
 * Issue 15 item 5 end to end: the compiled `latch serve` in front of the machine's MariaDB with `ephemeral:`.
 * Each session logs in upstream as a fresh user (present in mysql.user during the session, with the configured
 * role and nothing more: the server refuses what the role does not grant), dropped when the session ends; after
 * a kill -9 of the gateway the next start reaps the leftover.
 */
import { type ChildProcess, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.js";
import { LATCH_CLI, startLatchServe } from "../support/latch-serve.js";
import { rootConnection, scratchDatabase } from "../support/mariadb.js";

const run = promisify(execFile);
const tag = randomBytes(3).toString("hex");
const role = `latch_e2e_reader_${tag}`;
const adminUser = `latch_e2e_admin_${tag}`;
const adminPassword = `admin-${randomBytes(6).toString("hex")}`;
let dir: string;
let config: string;
let port: number;
let admin: string;
let db: Awaited<ReturnType<typeof scratchDatabase>>;
let token: string;
const children: ChildProcess[] = [];

// Inserts are allowed by policy so that the server, not the gateway, is what refuses them.
const POLICY = `permit(principal in Group::"agents", action in [Action::"sql:select", Action::"sql:insert", Action::"sql:session", Action::"sql:set"], resource in Connection::"shop");\n`;

const serve = async () => {
  const child = await startLatchServe(config, { SHOP_ADMIN_PASSWORD: adminPassword });
  children.push(child);
  return child;
};

const gatewayId = () => readFileSync(path.join(dir, "data", "gateway-id"), "utf8").trim();

/** Per-session users of this test's gateway, as the server lists them. */
const ephemeralUsers = async () => {
  const root = await rootConnection();
  try {
    const [rows] = await root.query("SELECT User AS u FROM mysql.user WHERE User LIKE ? ORDER BY 1", [
      `latch\\_${gatewayId()}\\_%`,
    ]);
    return (rows as { u: string }[]).map((r) => r.u);
  } finally {
    await root.end();
  }
};

const waitFor = async (check: () => Promise<boolean>, what: string, ms = 30_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const connect = () =>
  mysql.createConnection({
    host: "127.0.0.1",
    port,
    user: "eph-bot",
    password: token,
    database: "shop",
    ssl: { rejectUnauthorized: false },
    enableCleartextPlugin: true,
  });

beforeAll(async () => {
  db = await scratchDatabase(
    "latch_e2e_eph",
    "CREATE TABLE items (id INT PRIMARY KEY); INSERT INTO items VALUES (1), (2);",
  );
  const root = await rootConnection();
  await root.query(`
    CREATE ROLE \`${role}\`;
    GRANT SELECT ON \`${db.name}\`.* TO \`${role}\`;
    CREATE USER '${adminUser}'@'127.0.0.1' IDENTIFIED BY '${adminPassword}';
    GRANT CREATE USER, PROCESS, CONNECTION ADMIN ON *.* TO '${adminUser}'@'127.0.0.1';
    GRANT SELECT, UPDATE ON mysql.* TO '${adminUser}'@'127.0.0.1';
    GRANT \`${role}\` TO '${adminUser}'@'127.0.0.1' WITH ADMIN OPTION;`);
  await root.end();
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-mysql-eph-"));
  mkdirSync(path.join(dir, "policies"));
  writeFileSync(path.join(dir, "policies", "p.cedar"), POLICY);
  port = await freePort();
  const adminPort = await freePort();
  admin = `http://127.0.0.1:${adminPort}`;
  config = path.join(dir, "latch.yaml");
  writeFileSync(
    config,
    `listen: { mysql: "127.0.0.1:${port}", admin: "127.0.0.1:${adminPort}" }
data_dir: ./data
identity: { dev_issuer: true }
policies: ./policies
connections:
  shop:
    type: mysql
    upstream: "mysql://nobody@127.0.0.1:3306/${db.name}"
    ephemeral: { admin_user: ${adminUser}, admin_password: { env: SHOP_ADMIN_PASSWORD }, grant_roles: [${role}], ttl: 1h }
`,
  );
  await serve();
  token = (
    await run(process.execPath, [
      LATCH_CLI,
      "token",
      "--config",
      config,
      "--sub",
      "eph-bot",
      "--group",
      "agents",
    ])
  ).stdout.trim();
}, 90_000);

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  const root = await rootConnection();
  const [rows] = await root.query("SELECT User, Host FROM mysql.user WHERE User LIKE ?", [
    `latch\\_${gatewayId()}\\_%`,
  ]);
  for (const row of rows as { User: string; Host: string }[])
    await root.query("DROP USER IF EXISTS ?@?", [row.User, row.Host]);
  await root.query(`DROP ROLE IF EXISTS \`${role}\``);
  await root.end();
  await db?.drop([`'${adminUser}'@'127.0.0.1'`]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("MySQL ephemeral users through latch serve", () => {
  it("logs in as a fresh user with the configured role, the server enforces it, and it is dropped at the end", async () => {
    expect(await ephemeralUsers()).toEqual([]);
    const client = await connect();
    const during = await ephemeralUsers();
    expect(during).toHaveLength(1);
    expect(during[0]).toMatch(new RegExp(`^latch_${gatewayId()}_[0-9a-f]{8}$`));
    expect(during[0]).not.toContain("eph");

    const [rows] = await client.query("SELECT count(*) AS n FROM items");
    expect((rows as { n: number }[])[0]!.n).toBe(2);
    // Allowed by policy, refused by the server: the per-session user has the role's SELECT only.
    await expect(client.query("INSERT INTO items VALUES (3)")).rejects.toMatchObject({
      errno: 1142,
      message: expect.stringMatching(new RegExp(`INSERT command denied to user '${during[0]}'`)),
    });
    const root = await rootConnection();
    const [grants] = await root.query(`SHOW GRANTS FOR '${during[0]}'@'127.0.0.1'`);
    await root.end();
    const text = JSON.stringify(grants);
    expect(text).toContain(`GRANT \`${role}\` TO`);
    expect(text).toContain(`SET DEFAULT ROLE \`${role}\``);

    await client.end();
    await waitFor(async () => (await ephemeralUsers()).length === 0, "the user to be dropped");
  }, 90_000);

  it("drops the user when an operator kills the session (DELETE /api/sessions/:id)", async () => {
    const operator = (
      await run(process.execPath, [
        LATCH_CLI,
        "token",
        "--config",
        config,
        "--sub",
        "op",
        "--group",
        "latch-admins",
      ])
    ).stdout.trim();
    const api = (route: string, init: RequestInit = {}) =>
      fetch(`${admin}${route}`, { ...init, headers: { authorization: `Bearer ${operator}` } });
    const client = await connect();
    client.on("error", () => {});
    expect(await ephemeralUsers()).toHaveLength(1);
    const { sessions } = (await (await api("/api/sessions/live")).json()) as {
      sessions: { id: string; protocol: string }[];
    };
    const live = sessions.find((s) => s.protocol === "mysql");
    expect((await api(`/api/sessions/${live!.id}`, { method: "DELETE" })).status).toBe(200);
    await expect(client.query("SELECT 1")).rejects.toThrow();
    client.destroy();
    await waitFor(
      async () => (await ephemeralUsers()).length === 0,
      "the killed session's user to be dropped",
    );
  }, 90_000);

  it("reaps the user of a session that outlived a kill -9 of the gateway on the next start", async () => {
    const client = await connect();
    client.on("error", () => {});
    const during = await ephemeralUsers();
    expect(during).toHaveLength(1);
    const first = children.at(-1)!;
    first.kill("SIGKILL");
    await new Promise((resolve) => first.once("exit", resolve));
    await client.end().catch(() => undefined);
    expect(await ephemeralUsers()).toEqual(during); // nobody cleaned up: the process died

    await serve(); // the reaper runs before the listener opens
    expect(await ephemeralUsers()).toEqual([]);
  }, 90_000);

  it("drops the users of live sessions on a graceful stop (SIGTERM)", async () => {
    const client = await connect();
    client.on("error", () => {});
    expect(await ephemeralUsers()).toHaveLength(1);
    const gateway = children.at(-1)!;
    gateway.kill("SIGTERM");
    await new Promise((resolve) => gateway.once("exit", resolve));
    client.destroy();
    expect(await ephemeralUsers()).toEqual([]);
  }, 90_000);
});
