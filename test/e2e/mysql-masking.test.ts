/**
 * Issue 15, Must-have 4: masking of MySQL results end to end. The compiled `latch serve` in front of the
 * machine's MariaDB; the `mariadb` CLI and mysql2 reach it through a byte tap that keeps everything the
 * gateway sent to the client, and every case checks that no clear value is anywhere in those bytes. Two
 * connections: `shop` (on_derived: deny, the default) and `shop-lax` (on_derived: mask, detectors only for
 * derived values).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { freePort } from "../support/free-port.js";
import { LATCH_CLI, startLatchServe } from "../support/latch-serve.js";
import { rootConnection, scratchDatabase } from "../support/mariadb.js";

const run = promisify(execFile);

/** Values that must never reach a client in clear. NOTE is free text: only its column rule can catch it. */
const SSN = "123-45-6789";
const NOTE = "the quiet otter recipe";
const CARD = "4111111111111111";
const EMAIL = "ann.otter@example.com";
const SECRETS = [SSN, NOTE, CARD, EMAIL];
/** Length of big.body: its row is longer than one 16 MiB packet. */
const BIG = 16_777_212;

let dir: string;
let config: string;
let tapPort: number;
let admin: string;
let gateway: ChildProcess;
let tap: net.Server;
let db: Awaited<ReturnType<typeof scratchDatabase>>;
let token: string;
let received: Buffer[] = [];

const mint = async (sub: string, group: string) =>
  (
    await run(process.execPath, [LATCH_CLI, "token", "--config", config, "--sub", sub, "--group", group])
  ).stdout.trim();

const profile = (onDerived: string) => `
    detectors: [ssn, card, email]
    strategy: partial
    on_derived: ${onDerived}
    columns:
      - users.ssn
      - { column: users.notes, strategy: redact }
      - { column: v_users.notes, strategy: redact }
      - { column: dupes.note, strategy: redact }
      - { column: big.body, strategy: redact }`;

beforeAll(async () => {
  db = await scratchDatabase(
    "latch_mask",
    `CREATE TABLE users (id INT PRIMARY KEY, ssn VARCHAR(20), notes LONGTEXT, card BIGINT, email VARCHAR(100), doc LONGTEXT);
     INSERT INTO users VALUES (1, '${SSN}', '${NOTE}', ${CARD}, '${EMAIL}', '{"ssn": "${SSN}"}'),
                              (2, '219-09-9999', 'plain second note', 5555555555554444, 'bo@example.com', '{}');
     CREATE VIEW v_users AS SELECT id, ssn, notes FROM users;
     CREATE TABLE dupes (note VARCHAR(100), flag INT, UNIQUE KEY u (note, flag));
     INSERT INTO dupes VALUES ('${NOTE}', 1), ('${NOTE}', 2);
     CREATE TABLE defaults_t (x VARCHAR(20) DEFAULT '${SSN}');
     CREATE TABLE big (id INT PRIMARY KEY, body LONGTEXT);
     INSERT INTO big VALUES (1, 'short');
     UPDATE big SET body = CONCAT(REPEAT('a', ${BIG - NOTE.length}), '${NOTE}') WHERE id = 1;`,
  );
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-mysql-mask-"));
  mkdirSync(path.join(dir, "policies"));
  writeFileSync(
    path.join(dir, "policies", "p.cedar"),
    'permit(principal in Group::"agents", action, resource);\n',
  );
  const port = await freePort();
  const adminPort = await freePort();
  admin = `http://127.0.0.1:${adminPort}`;
  config = path.join(dir, "latch.yaml");
  writeFileSync(
    config,
    `listen: { mysql: "127.0.0.1:${port}", admin: "127.0.0.1:${adminPort}" }
data_dir: ./data
identity: { dev_issuer: true }
policies: ./policies
tls: { allow_plaintext: true }
limits: { max_message_bytes: 33554432 }
masking:
  strict_pii:${profile("deny")}
  lax_pii:${profile("mask")}
connections:
  shop: { type: mysql, upstream: "mysql://root@127.0.0.1:3306/${db.name}", masking: [strict_pii] }
  shop-lax: { type: mysql, upstream: "mysql://root@127.0.0.1:3306/${db.name}", masking: [lax_pii] }
`,
  );
  gateway = await startLatchServe(config);
  token = await mint("mask-bot", "agents");
  // The tap: a plain relay that keeps every byte the gateway sends towards the client.
  tap = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    upstream.on("data", (chunk: Buffer) => {
      received.push(Buffer.from(chunk));
      client.write(chunk);
    });
    client.on("data", (chunk: Buffer) => upstream.write(chunk));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  tapPort = await freePort();
  await new Promise<void>((resolve) => tap.listen(tapPort, "127.0.0.1", resolve));
}, 90_000);

afterAll(async () => {
  tap?.close();
  gateway?.kill("SIGTERM");
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  received = [];
});

/** Everything the client was sent since the case began, searched as bytes. */
function expectNoClearValue(secrets: readonly string[] = SECRETS): void {
  const bytes = Buffer.concat(received);
  expect(bytes.length).toBeGreaterThan(0);
  for (const secret of secrets)
    expect(bytes.includes(Buffer.from(secret)), `${secret} reached the client`).toBe(false);
}

const connect = (database = "shop") =>
  mysql.createConnection({
    host: "127.0.0.1",
    port: tapPort,
    user: "mask-bot",
    password: token,
    database,
    enableCleartextPlugin: true,
    multipleStatements: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
  });

async function query(
  sql: string,
  database = "shop",
): Promise<{ rows?: unknown; error?: { errno: number; message: string } }> {
  const c = await connect(database);
  try {
    const [rows] = await c.query(sql);
    return { rows };
  } catch (error) {
    return { error: error as { errno: number; message: string } };
  } finally {
    await c.end();
  }
}

/** The mariadb CLI, run asynchronously: the tap lives in this process and must keep relaying. */
function cli(input: string, database = "shop"): Promise<{ stdout: string; stderr: string }> {
  const args = ["-h", "127.0.0.1", "-P", String(tapPort), "-u", "mask-bot", `--password=${token}`];
  args.push("--skip-ssl", "--batch", "--force", "--max-allowed-packet=64M", database);
  return new Promise((resolve, reject) => {
    const child = spawn("mariadb", args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    child.once("error", reject);
    child.once("close", () =>
      resolve({
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err)
          .toString("utf8")
          .replace(/^WARNING: .*\n/gm, ""),
      }),
    );
    child.stdin.end(input);
  });
}

describe("masking by column provenance (text protocol)", () => {
  it("masks direct columns: the rule's strategy, detectors on the rest", async () => {
    const { rows } = await query("SELECT id, ssn, notes, email, card FROM users ORDER BY id");
    expect(rows).toEqual([
      {
        id: 1,
        ssn: "***-**-6789",
        notes: "[redacted]",
        email: expect.not.stringContaining("ann"),
        card: null,
      },
      { id: 2, ssn: "***-**-9999", notes: "[redacted]", email: expect.any(String), card: null },
    ]);
    expectNoClearValue();
  });

  it("follows provenance through aliases, table aliases, backticks and qualified names", async () => {
    const { rows } = await query(
      `SELECT u.ssn AS x, \`notes\` AS y FROM users u WHERE id = 1; SELECT \`${db.name}\`.users.notes AS z FROM \`${db.name}\`.\`users\` WHERE id = 1`,
    );
    expect(rows).toEqual([[{ x: "***-**-6789", y: "[redacted]" }], [{ z: "[redacted]" }]]);
    expectNoClearValue();
  });

  it("masks SELECT * and the mariadb CLI's output", async () => {
    const { stdout, stderr } = await cli("SELECT * FROM users WHERE id = 1;\n");
    expect(stderr).toBe("");
    expect(stdout).toContain("***-**-6789");
    expectNoClearValue();
  });

  it("masks a view whose columns the profile lists, and detects what it does not", async () => {
    const { rows } = await query("SELECT * FROM v_users WHERE id = 1");
    expect(rows).toEqual([{ id: 1, ssn: "***-**-6789", notes: "[redacted]" }]);
    expectNoClearValue();
  });

  it("masks every result of a multi-statement text", async () => {
    const { rows } = await query(
      "SELECT 1 AS a; SELECT notes FROM users WHERE id = 1; SELECT ssn FROM users WHERE id = 1",
    );
    expect(rows).toEqual([[{ a: 1 }], [{ notes: "[redacted]" }], [{ ssn: "***-**-6789" }]]);
    expectNoClearValue();
  });

  it("masks JSON text by content detection", async () => {
    const { rows } = await query("SELECT doc FROM users WHERE id = 1");
    expect(JSON.stringify(rows)).toContain("***-**-6789");
    expectNoClearValue();
  });
});

describe("derived values (on_derived: deny refuses, on_derived: mask detects)", () => {
  const derived = [
    ["CONCAT", "SELECT CONCAT(notes, '') AS n FROM users"],
    ["CAST", "SELECT CAST(notes AS CHAR) AS n FROM users"],
    ["JSON_EXTRACT", "SELECT JSON_EXTRACT(JSON_OBJECT('n', notes), '$.n') AS n FROM users"],
    ["GROUP_CONCAT", "SELECT GROUP_CONCAT(notes) AS n FROM users"],
    ["UNION", "SELECT notes FROM users UNION SELECT 'x'"],
    ["derived table", "SELECT * FROM (SELECT notes FROM users) t"],
    ["CTE", "WITH c AS (SELECT notes FROM users) SELECT * FROM c"],
    ["scalar subquery", "SELECT (SELECT notes FROM users WHERE id = 1) AS n"],
    ["HEX", "SELECT UNHEX(HEX(notes)) AS n FROM users"],
    ["SET @v from a subquery", "SET @v = (SELECT notes FROM users WHERE id = 1); SELECT @v"],
    ["SQL PREPARE", "PREPARE s FROM 'SELECT CONCAT(notes, 1) FROM users'; EXECUTE s"],
  ] as const;

  for (const [name, sql] of derived) {
    it(`refuses ${name} over a masked column before it reaches the server`, async () => {
      const { error } = await query(sql);
      expect(error?.errno).toBe(1142);
      expect(error?.message).toMatch(/masked column .*notes/);
      expectNoClearValue();
    });
  }

  it("refuses SELECT ... INTO @var (then SELECT @var has nothing)", async () => {
    const c = await connect();
    try {
      await expect(c.query("SELECT notes INTO @n FROM users WHERE id = 1")).rejects.toMatchObject({
        errno: 1235,
      });
      const [rows] = await c.query("SELECT @n AS n");
      expect(rows).toEqual([{ n: null }]);
    } finally {
      await c.end();
    }
    expectNoClearValue();
  });

  it("refuses a protocol-level prepare of an expression over a masked column", async () => {
    const c = await connect();
    try {
      await expect(c.execute("SELECT CONCAT(ssn, ?) FROM users", [""])).rejects.toMatchObject({
        errno: 1142,
      });
    } finally {
      await c.end();
    }
    expectNoClearValue();
  });

  const lax = [
    ["CONCAT", `SELECT CONCAT(ssn, ''), CONCAT(email, '') FROM users`],
    ["CAST", "SELECT CAST(ssn AS CHAR), CAST(card AS CHAR) FROM users"],
    ["JSON_EXTRACT", "SELECT JSON_EXTRACT(JSON_OBJECT('s', ssn), '$.s') FROM users"],
    ["GROUP_CONCAT", "SELECT GROUP_CONCAT(ssn, ' ', email) FROM users"],
    ["UNION", "SELECT ssn FROM users UNION SELECT email FROM users"],
    ["CTE", "WITH c AS (SELECT ssn, card FROM users) SELECT * FROM c"],
  ] as const;

  for (const [name, sql] of lax) {
    it(`detects SSNs, cards and e-mail addresses in ${name} results (on_derived: mask)`, async () => {
      const { rows, error } = await query(sql, "shop-lax");
      expect(error).toBeUndefined();
      expect(JSON.stringify(rows)).toMatch(/\*\*\*-\*\*-6789/);
      expectNoClearValue([SSN, CARD, EMAIL]);
    });
  }

  it("masks a materialized derived table by its base table's rule (MariaDB reports org_table without the database)", async () => {
    const { rows } = await query(
      "SELECT * FROM (SELECT notes FROM users WHERE id = 1 LIMIT 1) t",
      "shop-lax",
    );
    expect(rows).toEqual([{ notes: "[redacted]" }]);
    expectNoClearValue();
  });
});

describe("errors and warnings", () => {
  it("scrubs a duplicate-key error's echo of the value", async () => {
    const { error } = await query("UPDATE dupes SET flag = 0");
    expect(error?.errno).toBe(1062);
    // Everything between the first and the last quote goes: the key name too, so no piece of a value can leak.
    expect(error?.message).toBe("Duplicate entry '[masked]'");
    expectNoClearValue();
  });

  it("scrubs SHOW WARNINGS after a truncation warning, and SHOW ERRORS after the duplicate key", async () => {
    const { stdout, stderr } = await cli(
      "SELECT count(*) AS n FROM users WHERE notes = 0;\nSHOW WARNINGS;\nUPDATE dupes SET flag = 0;\nSHOW ERRORS;\n",
    );
    expect(stdout).toMatch(/Truncated incorrect \w+ value: '\[masked\]'/);
    expect(stdout).toMatch(/Duplicate entry '\[masked\]'/);
    expect(stderr).toMatch(/ERROR 1062/);
    expectNoClearValue();
  });

  it("scrubs warnings of a CAST on the lax connection (the value is a number, the warning quotes the text)", async () => {
    const { stdout } = await cli(
      "SELECT CAST(notes AS INTEGER) AS n FROM users;\nSHOW WARNINGS;\n",
      "shop-lax",
    );
    expect(stdout).toMatch(/Truncated incorrect INTEGER value: '\[masked\]'/);
    expectNoClearValue();
  });

  it("scrubs a prepared SHOW WARNINGS (binary rows, known by its columns)", async () => {
    const c = await connect();
    try {
      await c.query("SELECT count(*) AS n FROM users WHERE notes = 0");
      const [rows] = await c.execute("SHOW WARNINGS");
      expect(JSON.stringify(rows)).toMatch(/Truncated incorrect \w+ value: '\[masked\]'/);
    } finally {
      await c.end();
    }
    expectNoClearValue();
  });

  it("refuses GET DIAGNOSTICS (it would copy the message into a variable)", async () => {
    const { error } = await query("GET DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT");
    expect(error?.errno).toBe(1235);
  });
});

describe("information_schema", () => {
  it("detects values in column defaults and in other sessions' statement texts", async () => {
    const root = await rootConnection();
    const sleeping = root.query(`SELECT SLEEP(3) AS s, '${SSN}' AS x`);
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const { rows } = await query(
        `SELECT COLUMN_DEFAULT FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'defaults_t'; SELECT INFO FROM information_schema.PROCESSLIST WHERE INFO LIKE '%SLEEP(3)%'`,
      );
      expect(JSON.stringify(rows)).toContain("***-**-6789");
      expectNoClearValue([SSN]);
    } finally {
      await sleeping;
      await root.end();
    }
  });
});

describe("binary protocol (prepared statements)", () => {
  it("masks binary rows: strings by rule and detector, a detected number becomes NULL", async () => {
    const c = await connect();
    try {
      const [rows] = await c.execute(
        "SELECT id, ssn, notes, email, card, doc FROM users WHERE id >= ? ORDER BY id",
        [1],
      );
      const list = rows as Record<string, unknown>[];
      expect(list).toHaveLength(2);
      expect(list[0]).toMatchObject({ id: 1, ssn: "***-**-6789", notes: "[redacted]", card: null });
      expect(list[1]).toMatchObject({ id: 2, ssn: "***-**-9999", notes: "[redacted]", card: null });
      // The same statement again: types are not re-sent, rows still masked.
      const [again] = await c.execute(
        "SELECT id, ssn, notes, email, card, doc FROM users WHERE id >= ? ORDER BY id",
        [2],
      );
      expect(again).toMatchObject([{ id: 2, ssn: "***-**-9999" }]);
    } finally {
      await c.end();
    }
    expectNoClearValue();
  });

  it("records bound values masked by the detectors, with their digests", async () => {
    const c = await connect();
    try {
      await c.execute("SELECT id FROM users WHERE ssn = ? AND id > ?", [SSN, 0]);
    } finally {
      await c.end();
    }
    const adminToken = await mint("auditor", "latch-admins");
    const response = await fetch(`${admin}/api/audit?kind=operation&limit=500`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const { events } = (await response.json()) as { events: { data: Record<string, unknown> }[] };
    const executed = events.find(
      (e) => JSON.stringify(e.data).includes("WHERE ssn = ? AND id > ?") && e.data.parameters,
    );
    expect(executed?.data.parameters).toEqual([["***-**-6789", "0"]]);
    const all = JSON.stringify(events);
    expect(all).not.toContain(SSN);
    expect(all).not.toContain(NOTE);
  });
});

describe("rows longer than one 16 MiB packet", () => {
  it("re-frames a masked text row that shrinks from two packets to one, renumbering what follows", async () => {
    const { rows } = await query("SELECT body, id FROM big; SELECT 1 AS after");
    expect(rows).toEqual([[{ body: "[redacted]", id: 1 }], [{ after: 1 }]]);
    expectNoClearValue([NOTE]);
  });

  it("re-frames a binary row the same way", async () => {
    const c = await connect();
    try {
      const [rows] = await c.execute("SELECT body, id FROM big WHERE id = ?", [1]);
      expect(rows).toEqual([{ body: "[redacted]", id: 1 }]);
      const [next] = await c.query("SELECT 2 AS after");
      expect(next).toEqual([{ after: 2 }]);
    } finally {
      await c.end();
    }
    expectNoClearValue([NOTE]);
  });

  it("masks a detector hit at the end of a two-packet derived value (same length, rewritten in place)", async () => {
    const { stdout, stderr } = await cli(
      `SELECT CONCAT(REPEAT('a', ${BIG - SSN.length - 1}), ' ', '123-45-', '6789') AS x, 'end' AS y;\n`,
      "shop-lax",
    );
    expect(stderr).toBe("");
    expect(stdout).toMatch(/a \*\*\*-\*\*-6789\tend\n$/);
    expectNoClearValue([SSN]);
  });
});
