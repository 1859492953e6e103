/**
 * A MySQL client that stops reading a big result must not make the gateway hold that result: the compiled
 * `latch serve` in front of the machine's MariaDB, a 96 MiB result (96 rows of 1 MiB from MariaDB's sequence
 * engine) read by mysql2 that pauses after the first row. The gateway's resident memory is read from /proc
 * while the client is paused: it grows by a few socket buffers, not by the result. Resumed, every row arrives.
 */
import { type ChildProcess, execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import mysql from "mysql2";
import { afterAll, beforeAll, expect, it } from "vitest";
import { freePort } from "../support/free-port.js";
import { LATCH_CLI, startLatchServe } from "../support/latch-serve.js";
import { scratchDatabase } from "../support/mariadb.js";

const run = promisify(execFile);
const ROWS = 96;
const ROW_BYTES = 1024 * 1024;
let dir: string;
let config: string;
let port: number;
let gateway: ChildProcess;
let db: Awaited<ReturnType<typeof scratchDatabase>>;

const rssBytes = (pid: number) => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return Number(line![1]) * 1024;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  db = await scratchDatabase("latch_bp", "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);");
  dir = mkdtempSync(path.join(os.tmpdir(), "latch-mysql-bp-"));
  mkdirSync(path.join(dir, "policies"));
  writeFileSync(
    path.join(dir, "policies", "p.cedar"),
    'permit(principal in Group::"agents", action, resource);\n',
  );
  port = await freePort();
  const adminPort = await freePort();
  config = path.join(dir, "latch.yaml");
  writeFileSync(
    config,
    `listen: { mysql: "127.0.0.1:${port}", admin: "127.0.0.1:${adminPort}" }
data_dir: ./data
identity: { dev_issuer: true }
policies: ./policies
tls: { allow_plaintext: true }
connections:
  shop: { type: mysql, upstream: "mysql://root@127.0.0.1:3306/${db.name}" }
`,
  );
  gateway = await startLatchServe(config, {}, { timeoutMs: 50_000 });
}, 60_000);

afterAll(async () => {
  gateway?.kill("SIGTERM");
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it("pauses the server while the client does not read, and delivers every row once it does", async () => {
  const token = (
    await run(process.execPath, [
      LATCH_CLI,
      "token",
      "--config",
      config,
      "--sub",
      "bp-bot",
      "--group",
      "agents",
    ])
  ).stdout.trim();
  const connection = mysql.createConnection({
    host: "127.0.0.1",
    port,
    user: "bp-bot",
    password: token,
    database: "shop",
    enableCleartextPlugin: true,
  });
  try {
    await new Promise<void>((resolve, reject) =>
      connection.ping((error) => (error ? reject(error) : resolve())),
    );
    const before = rssBytes(gateway.pid!);
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
    const grown = rssBytes(gateway.pid!) - before;
    expect(rows).toBe(1);
    expect(grown).toBeLessThan(16 * ROW_BYTES); // unpaused, it held ~54 MiB of the 96 here
    connection.resume();
    await done;
    expect(rows).toBe(ROWS);
    expect(bytes).toBe(ROWS * ROW_BYTES);
  } finally {
    connection.destroy();
  }
}, 60_000);
