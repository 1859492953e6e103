/**
 * A MySQL client that stops reading a big result must not make the gateway hold that result: the compiled
 * `latch serve` in front of the machine's MariaDB, a 160 MiB result (160 rows of 1 MiB from MariaDB's sequence
 * engine) read by mysql2 that pauses after the first row. The gateway's resident memory is read from /proc
 * while the client is paused: it grows by a few socket buffers, not by the result. Resumed, every row arrives.
 */
import { readFileSync } from "node:fs";
import mysql from "mysql2";
import { afterAll, beforeAll, expect, it } from "vitest";
import { scratchDatabase } from "../support/mariadb.js";
import { type MysqlLatch, startMysqlLatch } from "../support/mysql-latch.js";

const ROWS = 160;
const ROW_BYTES = 1024 * 1024;
let latch: MysqlLatch;
let db: Awaited<ReturnType<typeof scratchDatabase>>;

const rssBytes = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return Number(line![1]) * 1024;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  db = await scratchDatabase("latch_bp", "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);");
  latch = await startMysqlLatch({
    policy: 'permit(principal in Group::"agents", action, resource);\n',
    connections: `  shop: { type: mysql, upstream: "mysql://root@127.0.0.1:3306/${db.name}" }`,
    extra: "tls: { allow_plaintext: true }",
  });
}, 60_000);

afterAll(async () => {
  latch?.close();
  await db?.drop();
});

it("pauses the server while the client does not read, and delivers every row once it does", async () => {
  const token = await latch.mint("bp-bot", "agents");
  const connection = mysql.createConnection({
    host: "127.0.0.1",
    port: latch.port,
    user: "bp-bot",
    password: token,
    database: "shop",
    enableCleartextPlugin: true,
  });
  try {
    await new Promise<void>((resolve, reject) =>
      connection.ping((error) => (error ? reject(error) : resolve())),
    );
    // The same statement shape once first: the parser and caches a first query loads are not what is measured.
    await new Promise<void>((resolve, reject) =>
      connection.query("SELECT REPEAT('x', 1024) AS b FROM seq_1_to_4", (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    const before = rssBytes(latch.gateway.pid!);
    let rows = 0;
    let bytes = 0;
    const done = new Promise<void>((resolve, reject) => {
      connection
        .query(`SELECT REPEAT('x', ${ROW_BYTES}) AS b FROM seq_1_to_${ROWS}`)
        .on("result", (row) => {
          rows++;
          bytes += (row as { b: string }).b.length;
          if (rows === 1) connection.pause();
        })
        .on("error", reject)
        .on("end", () => resolve());
    });
    while (rows === 0) await sleep(20);
    await sleep(1500); // long enough for an unpaused gateway to have read the whole result from MariaDB
    const grown = rssBytes(latch.gateway.pid!) - before;
    expect(rows).toBe(1);
    expect(grown).toBeLessThan(32 * ROW_BYTES); // unpaused, it held ~74 MiB of this result here
    connection.resume();
    await done;
    expect(rows).toBe(ROWS);
    expect(bytes).toBe(ROWS * ROW_BYTES);
  } finally {
    connection.destroy();
  }
}, 60_000);
