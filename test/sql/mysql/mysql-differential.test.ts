/**
 * The classifier against the real server (issue 15): every corpus statement the classifier calls read-only is
 * run on MariaDB as a low-privilege user inside a transaction that is rolled back, and must not have changed
 * any table (contents by CHECKSUM TABLE, the set of tables by information_schema). A read-only verdict the
 * server disagrees with would be a bypass of every policy that permits reads.
 */
import { randomBytes } from "node:crypto";
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMysqlClassifier, loadMysqlParser } from "../../../src/sql/mysql/create-classifier.js";
import { MYSQL_BYPASS_CASES } from "../../bypass/mysql-corpus.js";
import { MARIADB, rootConnection, scratchDatabase } from "../../support/mariadb.js";
import { MYSQL_STATEMENTS } from "./statement-corpus.js";

const TABLES =
  "CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50), FULLTEXT (name)); CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, total INT); CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50)); INSERT INTO users VALUES (1, 'ann'), (2, 'bob'); INSERT INTO orders VALUES (1, 1, 50), (2, 1, 150), (3, 2, 0); INSERT INTO items VALUES (1, 'pen');";
let shop: Awaited<ReturnType<typeof scratchDatabase>>;
let other: Awaited<ReturnType<typeof scratchDatabase>>;
const user = `latch_diff_${randomBytes(3).toString("hex")}`;
const password = randomBytes(12).toString("hex");
let low: mysql.Connection;
let root: mysql.Connection;

beforeAll(async () => {
  await loadMysqlParser();
  shop = await scratchDatabase("latch_diff_shop", TABLES);
  other = await scratchDatabase(
    "latch_diff_other",
    "CREATE TABLE secrets (id INT, note VARCHAR(50)); INSERT INTO secrets VALUES (1, 'x');",
  );
  root = await rootConnection();
  await root.query(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'`);
  for (const db of [shop.name, other.name])
    await root.query(
      `GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX, CREATE VIEW, LOCK TABLES, CREATE TEMPORARY TABLES ON \`${db}\`.* TO '${user}'@'127.0.0.1'`,
    );
  low = await mysql.createConnection({ ...MARIADB, user, password, database: shop.name });
}, 60_000);

afterAll(async () => {
  await low?.end().catch(() => undefined);
  await root?.end().catch(() => undefined);
  await shop?.drop([`'${user}'@'127.0.0.1'`]);
  await other?.drop();
});

/** Every table's checksum and the list of tables, read inside the statement's own (uncommitted) transaction. */
async function snapshot(): Promise<string> {
  const [tables] = await low.query(
    "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN (?, ?) ORDER BY 1, 2",
    [shop.name, other.name],
  );
  const names = (tables as { table_schema: string; table_name: string }[]).map(
    (t) => `\`${t.table_schema}\`.\`${t.table_name}\``,
  );
  const [sums] = await low.query(`CHECKSUM TABLE ${names.join(", ")}`);
  return JSON.stringify(sums);
}

/** Runs the text in a transaction that is rolled back; true when it changed a table meanwhile. */
async function changes(text: string): Promise<boolean> {
  await low.query("START TRANSACTION");
  const before = await snapshot();
  try {
    await low.query(text);
  } catch {
    // A statement the server refuses changed nothing either; the snapshot says so.
  }
  const after = await snapshot();
  await low.query("ROLLBACK").catch(() => undefined);
  await low.query(`USE \`${shop.name}\``);
  return after !== before;
}

describe("MySQL classifier against MariaDB", () => {
  it("the harness sees a write, a replace and an upsert (so a wrong read-only verdict would show)", async () => {
    expect(await changes("DELETE FROM users WHERE id = 2")).toBe(true);
    expect(await changes("REPLACE INTO users VALUES (1, 'zed')")).toBe(true);
    expect(await changes("INSERT INTO users VALUES (1, 'a') ON DUPLICATE KEY UPDATE name = 'q'")).toBe(true);
    expect(await changes("SELECT * FROM users")).toBe(false);
  });

  it("no statement classified read-only changes anything on the server", async () => {
    const classifier = createMysqlClassifier();
    const texts = [...MYSQL_STATEMENTS, ...MYSQL_BYPASS_CASES.map((c) => c.sql)].map((sql) =>
      sql
        .replaceAll("other.", `${other.name}.`)
        .replaceAll("USE shop", `USE ${shop.name}`)
        .replaceAll("USE other", `USE ${other.name}`),
    );
    let ran = 0;
    const disagreements: string[] = [];
    for (const text of texts) {
      const result = classifier.classify(text, shop.name);
      if (!result.ok || !result.statements.every((s) => s.readOnly)) continue;
      const changed = await changes(text);
      ran++;
      if (changed) disagreements.push(text);
    }
    expect(disagreements).toEqual([]);
    expect(ran).toBeGreaterThan(80);
  }, 120_000);
});
