/**
 * Issue 15 end to end: the compiled `latch serve` in front of the machine's MariaDB, reached by the real
 * `mariadb` CLI (TLS, --enable-cleartext-plugin, the token as password) and by mysql2. Reads run, writes are
 * refused with MySQL error 1142 naming the rule, the session stays usable, and every statement is on record.
 */
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rootConnection, scratchDatabase } from "../support/mariadb.js";
import { type MysqlLatch, startMysqlLatch } from "../support/mysql-latch.js";

const run = promisify(execFile);
let latch: MysqlLatch;
let port: number;
let admin: string;
let db: Awaited<ReturnType<typeof scratchDatabase>>;
let token: string;
const appUser = `latch_app_${Math.random().toString(16).slice(2, 8)}`;
const appPassword = `pw-${Math.random().toString(36).slice(2)}`;

const POLICY = `
permit(principal in Group::"agents", action in [Action::"sql:select", Action::"sql:session", Action::"sql:set"], resource in Connection::"shop");
permit(principal in Group::"agents", action == Action::"sql:select", resource in Connection::"shop-app");
@id("no-secrets")
forbid(principal, action, resource == Table::"shop/DB.secrets");
`;

const mint = (sub: string, group: string) => latch.mint(sub, group);

beforeAll(async () => {
  db = await scratchDatabase(
    "latch_e2e",
    "CREATE TABLE items (id INT PRIMARY KEY, name TEXT); INSERT INTO items VALUES (1, 'apple'), (2, 'pear'); CREATE TABLE secrets (id INT); INSERT INTO secrets VALUES (42);",
  );
  // A login with a password: the gateway answers the server's mysql_native_password challenge itself.
  const root = await rootConnection();
  await root.query(`CREATE USER '${appUser}'@'127.0.0.1' IDENTIFIED BY '${appPassword}'`);
  await root.query(`GRANT SELECT ON \`${db.name}\`.* TO '${appUser}'@'127.0.0.1'`);
  await root.end();
  latch = await startMysqlLatch({
    policy: POLICY.replace("DB", db.name),
    connections: `  shop: { type: mysql, upstream: "mysql://root@127.0.0.1:3306/${db.name}" }
  shop-app: { type: mysql, upstream: "mysql://${appUser}@127.0.0.1:3306/${db.name}", password: { env: APP_PASSWORD } }`,
    env: { APP_PASSWORD: appPassword },
  });
  port = latch.port;
  admin = latch.admin;
  token = await mint("mysql-bot", "agents");
}, 60_000);

afterAll(async () => {
  latch?.close();
  await db?.drop([`'${appUser}'@'127.0.0.1'`]);
});

const mariadb = (args: string[], password = token) =>
  run("mariadb", [
    "-h",
    "127.0.0.1",
    "-P",
    String(port),
    "-u",
    "mysql-bot",
    `--password=${password}`,
    "--enable-cleartext-plugin",
    "--batch",
    ...args,
  ]).then(
    // The MariaDB 10.11 client warns that --enable-cleartext-plugin is obsolete (it always allows it); Oracle's needs it.
    ({ stdout, stderr }) => ({ code: 0, stdout: stdout.replace(/^WARNING: .*\n/gm, ""), stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      ...error,
      stdout: error.stdout.replace(/^WARNING: .*\n/gm, ""),
    }),
  );

describe("mariadb CLI through latch serve", () => {
  it("runs an allowed read over TLS with the token as password", async () => {
    const result = await mariadb([
      "--ssl",
      "--skip-ssl-verify-server-cert",
      "shop",
      "-e",
      "SELECT name FROM items ORDER BY id",
    ]);
    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.stdout).toBe("name\napple\npear\n");
  });

  it("refuses a write with ERROR 1142 naming the action, and the session goes on (--force)", () => {
    const result = spawnSync(
      "mariadb",
      [
        "-h",
        "127.0.0.1",
        "-P",
        String(port),
        "-u",
        "mysql-bot",
        `--password=${token}`,
        "--ssl",
        "--skip-ssl-verify-server-cert",
        "--batch",
        "--force",
        "shop",
      ],
      { input: "DELETE FROM items;\nSELECT count(*) AS n FROM items;\n", encoding: "utf8" },
    );
    expect(result.stderr).toMatch(
      /ERROR 1142 \(42000\).*denied by Latch policy: sql:delete on table .*items/,
    );
    expect(result.stdout).toBe("n\n2\n");
  });

  it("names the forbid rule that denied a read", async () => {
    const result = await mariadb([
      "--ssl",
      "--skip-ssl-verify-server-cert",
      "shop",
      "-e",
      "SELECT * FROM secrets",
    ]);
    expect(result.stderr).toMatch(/ERROR 1142.*no-secrets/);
  });

  it("logs in upstream with the injected password (mysql_native_password), never the client's", async () => {
    const result = await mariadb([
      "--ssl",
      "--skip-ssl-verify-server-cert",
      "shop-app",
      "-e",
      "SELECT CURRENT_USER() AS u",
    ]);
    expect(result.stdout).toBe(`u\n${appUser}@127.0.0.1\n`);
  });

  it("serves USE of the connection (COM_INIT_DB) and refuses another database without sql:use", () => {
    const result = spawnSync(
      "mariadb",
      [
        "-h",
        "127.0.0.1",
        "-P",
        String(port),
        "-u",
        "mysql-bot",
        `--password=${token}`,
        "--ssl",
        "--skip-ssl-verify-server-cert",
        "--batch",
        "--force",
        "shop",
      ],
      {
        input: "USE shop\nSELECT count(*) AS n FROM items;\nUSE mysql\nSELECT count(*) AS n FROM items;\n",
        encoding: "utf8",
      },
    );
    expect(result.stderr).toMatch(/ERROR 1142.*sql:use/);
    // The refused USE left the session in the connection's database: the second count reads the same table.
    expect(result.stdout).toBe("n\n2\nn\n2\n");
  });

  it("refuses the token in clear without TLS (tls.allow_plaintext is off)", async () => {
    const result = await mariadb(["--skip-ssl", "shop", "-e", "SELECT 1"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/3159.*TLS/);
  });

  it("refuses a wrong token with 1045 access denied", async () => {
    const result = await mariadb(
      ["--ssl", "--skip-ssl-verify-server-cert", "shop", "-e", "SELECT 1"],
      "not-a-token",
    );
    expect(result.stderr).toMatch(/ERROR 1045 \(28000\).*token rejected/);
  });
});

describe("mysql2 through latch serve", () => {
  const connect = () =>
    mysql.createConnection({
      host: "127.0.0.1",
      port,
      user: "mysql-bot",
      password: token,
      database: "shop",
      ssl: { rejectUnauthorized: false },
      enableCleartextPlugin: true,
      multipleStatements: true,
    });

  it("reads, is refused a write in-protocol, and keeps the connection usable", async () => {
    const c = await connect();
    try {
      const [rows] = await c.query("SELECT id, name FROM items ORDER BY id");
      expect(rows).toEqual([
        { id: 1, name: "apple" },
        { id: 2, name: "pear" },
      ]);
      await expect(c.query("UPDATE items SET name = 'x' WHERE id = 1")).rejects.toMatchObject({
        errno: 1142,
        sqlState: "42000",
      });
      // A multi-statement text is authorized as a whole: the read half does not run either.
      await expect(c.query("SELECT 1; DELETE FROM items")).rejects.toMatchObject({ errno: 1142 });
      await c.ping();
      const [again] = await c.query("SELECT count(*) AS n FROM items");
      expect(again).toEqual([{ n: 2 }]);
      const [multi] = await c.query("SELECT 1 AS a; SELECT 2 AS b");
      expect(multi).toEqual([[{ a: 1 }], [{ b: 2 }]]);
    } finally {
      await c.end();
    }
  });

  it("judges each execution of a prepared statement, refuses LOAD DATA LOCAL, and the session goes on", async () => {
    const c = await connect();
    try {
      const [rows] = await c.execute("SELECT name FROM items WHERE id = ?", [2]);
      expect(rows).toEqual([{ name: "pear" }]);
      const [again] = await c.execute("SELECT name FROM items WHERE id = ?", [1]);
      expect(again).toEqual([{ name: "apple" }]);
      // Preparing a write is harmless; executing it is what policy refuses.
      await expect(c.execute("DELETE FROM items WHERE id = ?", [1])).rejects.toMatchObject({ errno: 1142 });
      await expect(c.execute("SELECT * FROM items INTO OUTFILE '/tmp/latch-x'")).rejects.toMatchObject({
        errno: 1064,
      });
      await expect(c.query("LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE items")).rejects.toMatchObject({
        errno: 1235,
      });
      const [count] = await c.query("SELECT count(*) AS n FROM items");
      expect(count).toEqual([{ n: 2 }]);
    } finally {
      await c.end();
    }
  });

  it("recorded every statement, allowed and denied, with its decision", async () => {
    const adminToken = await mint("auditor", "latch-admins");
    const response = await fetch(`${admin}/api/audit?kind=operation&limit=500`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const { events } = (await response.json()) as {
      events: { data: { steps?: { text: string }[]; decision?: string } }[];
    };
    const texts = events.map((e) => JSON.stringify(e.data));
    expect(texts.some((t) => t.includes("SELECT id, name FROM items ORDER BY id"))).toBe(true);
    expect(
      texts.some((t) => t.includes("UPDATE items SET name = 'x' WHERE id = 1") && t.includes("deny")),
    ).toBe(true);
  });

  it("ends a live session on `DELETE /api/sessions/:id` and refuses a blocked principal (the shared session layer)", async () => {
    const adminToken = await mint("operator", "latch-admins");
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${admin}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${adminToken}`,
          ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        },
      });
    const c = await connect();
    c.on("error", () => undefined);
    await c.query("SELECT 1");
    const { sessions } = (await (await api("/api/sessions/live")).json()) as {
      sessions: { id: string; protocol: string; subject: string }[];
    };
    const live = sessions.find((s) => s.protocol === "mysql");
    expect(live).toBeDefined();
    const killed = await api(`/api/sessions/${live!.id}`, { method: "DELETE" });
    expect(killed.status, await killed.clone().text()).toBe(200);
    await expect(c.query("SELECT 1")).rejects.toThrow();
    c.destroy();

    const blockedToken = await mint("blocked-bot", "agents");
    expect(
      (await api("/api/principals/blocked-bot/block", { method: "POST", body: "{}" })).status,
    ).toBeLessThan(300);
    await expect(
      mysql.createConnection({
        host: "127.0.0.1",
        port,
        user: "blocked-bot",
        password: blockedToken,
        database: "shop",
        ssl: { rejectUnauthorized: false },
        enableCleartextPlugin: true,
      }),
    ).rejects.toMatchObject({ errno: 1045 });
  });
});
