/**
 * Differential check of the classifier against a real PostgreSQL: every statement classified readOnly must
 * run without the server assigning a transaction id (any write, DDL, lock or sequence change assigns one),
 * and every statement listed as a hidden write must both be classified as not read-only and really get one.
 * Uses the local PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and skips only if it is unreachable.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatementClassifier } from "../../src/sql/classification.js";
import { createStatementClassifier, loadSqlParser } from "../../src/sql/postgres/create-classifier.js";

const SCHEMA = `latch_diff_${process.pid}`;

/** Statements that must be classified read-only (and really are). */
const READS = [
  "SELECT 1",
  "SELECT * FROM users",
  "SELECT u.name, a.balance FROM users u JOIN accounts a ON a.user_id = u.id WHERE a.balance > 10",
  "SELECT count(*), max(balance), string_agg(name, ',') FROM users JOIN accounts ON true",
  "WITH big AS (SELECT * FROM accounts WHERE balance > 0) SELECT * FROM big",
  "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r",
  "SELECT * FROM users WHERE id IN (SELECT user_id FROM accounts)",
  "SELECT lower(name), upper(name), length(name), coalesce(name, 'x'), now() FROM users",
  "TABLE users",
  "VALUES (1, 'a'), (2, 'b')",
  "SELECT * FROM generate_series(1, 3) g, LATERAL (SELECT g * 2) d",
  "SELECT * FROM pg_catalog.pg_class LIMIT 1",
  "SELECT table_name FROM information_schema.tables LIMIT 1",
  "EXPLAIN DELETE FROM users",
  "EXPLAIN UPDATE accounts SET balance = 0",
  "EXPLAIN SELECT * FROM users",
  "EXPLAIN ANALYZE SELECT * FROM users",
  "SHOW work_mem",
  "SET statement_timeout = '10s'",
  "SELECT 1 /* /* nested */ DELETE FROM users */",
  "SELECT $$; DELETE FROM users; $$",
  "SELECT E'\\'; DELETE FROM users; --'",
  'SELECT * FROM U&"\\0075sers"',
  "SELECT to_char(now(), 'YYYY'), date_trunc('day', now()), extract(year from now())",
  "SELECT json_build_object('a', 1), jsonb_agg(name) FROM users",
  "COPY (SELECT * FROM users) TO STDOUT",
  "LISTEN some_channel",
];

/** Hidden writes: must be classified not read-only, and the server must confirm they write. */
const HIDDEN_WRITES = [
  "WITH d AS (DELETE FROM users WHERE id = 1 RETURNING *) SELECT * FROM d",
  "WITH a AS (UPDATE accounts SET balance = 0 RETURNING 1), b AS (SELECT * FROM a) SELECT * FROM b",
  "EXPLAIN ANALYZE DELETE FROM users",
  "EXPLAIN (ANALYZE, COSTS off) INSERT INTO users (id, name) VALUES (99, 'x')",
  "SELECT * INTO stolen FROM users",
  "CREATE TABLE stolen2 AS SELECT * FROM users",
  "SELECT * FROM accounts FOR UPDATE",
  "SELECT nextval('counter')",
  "SELECT setval('counter', 5)",
  "SELECT txid_current()",
  "INSERT INTO users (id, name) VALUES (5, 'e') ON CONFLICT (id) DO UPDATE SET name = 'f'",
  "UPDATE users SET name = 'z'",
  "DELETE FROM accounts",
  "TRUNCATE accounts",
  "CREATE INDEX ON users (name)",
  "ALTER TABLE users ADD COLUMN extra int",
  "SELECT 1; DELETE FROM users WHERE id = 2",
  "DO $$ BEGIN DELETE FROM users; END $$",
  "SELECT purge_users()",
  "CREATE VIEW v AS SELECT * FROM users",
  "GRANT SELECT ON users TO PUBLIC",
  "COMMENT ON TABLE users IS 'x'",
];

let client: pg.Client | undefined;
let unreachable: string | undefined;
let classifier: StatementClassifier;

beforeAll(async () => {
  await loadSqlParser();
  classifier = createStatementClassifier();
  const candidate = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });
  try {
    await candidate.connect();
  } catch (error) {
    unreachable = `PostgreSQL on 127.0.0.1:5432 is unreachable: ${(error as Error).message}`;
    return;
  }
  client = candidate;
  await client.query(`BEGIN;
    CREATE SCHEMA ${SCHEMA};
    SET LOCAL search_path = ${SCHEMA};
    CREATE TABLE users (id int PRIMARY KEY, name text);
    CREATE TABLE accounts (id int PRIMARY KEY, user_id int, balance numeric);
    CREATE SEQUENCE counter;
    CREATE FUNCTION purge_users() RETURNS int LANGUAGE sql AS 'DELETE FROM ${SCHEMA}.users RETURNING 1';
    INSERT INTO users VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
    INSERT INTO accounts VALUES (1, 1, 100), (2, 2, 0);
    COMMIT`);
  await client.query(`SET search_path = ${SCHEMA}`);
});

afterAll(async () => {
  if (client === undefined) return;
  await client.query("ROLLBACK").catch(() => undefined);
  await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await client.end();
});

/** Runs the statement in a transaction that is always rolled back; returns the xid it got, or null. */
async function transactionIdAfter(sql: string): Promise<string | null> {
  const db = client!;
  await db.query("BEGIN");
  try {
    await db.query(sql);
    const result = await db.query<{ xid: string | null }>("SELECT txid_current_if_assigned()::text AS xid");
    return result.rows[0]!.xid;
  } finally {
    await db.query("ROLLBACK");
  }
}

function readOnly(sql: string): boolean {
  const result = classifier.classify(sql);
  if (!result.ok) throw new Error(`${sql}: ${result.reason}`);
  return result.statements.every((statement) => statement.readOnly);
}

describe("classification vs. a real PostgreSQL 15", () => {
  it("has a corpus of at least 30 statements", () => {
    expect(READS.length + HIDDEN_WRITES.length).toBeGreaterThanOrEqual(30);
  });

  it("never lets a statement classified read-only obtain a transaction id", async (context) => {
    if (unreachable !== undefined) return context.skip(unreachable);
    for (const sql of READS) {
      expect(readOnly(sql), sql).toBe(true);
      expect(await transactionIdAfter(sql), sql).toBeNull();
    }
  });

  it("classifies every hidden write as not read-only, and the server confirms it writes", async (context) => {
    if (unreachable !== undefined) return context.skip(unreachable);
    for (const sql of HIDDEN_WRITES) {
      expect(readOnly(sql), sql).toBe(false);
      expect(await transactionIdAfter(sql), sql).not.toBeNull();
    }
  });
});
