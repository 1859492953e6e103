/**
 * The normalized-text cache re-issues one classification for every literal variant of a statement. That is
 * only sound if classification never depends on a constant's value; this suite checks it over a corpus.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { BoundedCache } from "../../src/sql/bounded-cache.js";
import { createCachedClassifier } from "../../src/sql/postgres/classification-cache.js";
import { type ClassifyFresh, createFreshClassifier } from "../../src/sql/postgres/classify-statement.js";
import { loadSqlParser, normalizeSql } from "../../src/sql/postgres/load-parser.js";

const CORPUS = [
  "SELECT 1",
  "SELECT * FROM users WHERE id = 42",
  "SELECT name FROM users WHERE email = 'a@example.com' AND age > 30 LIMIT 10",
  "  select lower('ABC'), upper(name) from Users where id in (1, 2, 3) ;  ",
  "/* leading */ SELECT 'x' -- trailing",
  "SELECT 'héllo', '😀' FROM t WHERE a = 'ü'",
  "SELECT abalance FROM pgbench_accounts WHERE aid = 123456",
  "UPDATE pgbench_accounts SET abalance = abalance + -4321 WHERE aid = 77",
  "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, CURRENT_TIMESTAMP)",
  "DELETE FROM t WHERE created < now() - interval '30 days'",
  "DELETE FROM t",
  "UPDATE t SET a = 'x'",
  "INSERT INTO t VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET b = 'c'",
  "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING",
  "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND s.v > 5 THEN DELETE WHEN NOT MATCHED THEN INSERT VALUES (7)",
  "WITH d AS (DELETE FROM t WHERE id = 5 RETURNING *) SELECT * FROM d",
  "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 100) SELECT * FROM r",
  "WITH users AS (SELECT * FROM users WHERE id = 3) SELECT * FROM users",
  "SELECT * FROM accounts WHERE id = 9 FOR UPDATE",
  "SELECT * FROM a JOIN b ON a.id = b.id WHERE b.x = 'y' FOR SHARE OF a",
  "SELECT pg_sleep(1)",
  "SELECT pg_terminate_backend(12345)",
  "SELECT set_config('role', 'postgres', false)",
  "SELECT nextval('seq'), currval('seq')",
  "SELECT my_udf(1, 'two')",
  "SELECT public.lower('x')",
  "SELECT 1 OPERATOR(public.+) 2",
  "SELECT * FROM t ORDER BY id DESC LIMIT 5 OFFSET 10",
  "SELECT count(*) FILTER (WHERE a > 3) FROM t GROUP BY b HAVING count(*) > 2",
  "SELECT * FROM ROWS FROM (generate_series(1, 10), evil(2))",
  "VALUES (1, 'a'), (2, 'b')",
  "TABLE t",
  "SELECT '2024-01-01'::date + 3",
  "SELECT * FROM t WHERE a BETWEEN 1 AND 9",
  "SELECT * INTO n FROM t WHERE a = 1",
  "CREATE TABLE n AS SELECT * FROM t WHERE a = 2",
  "CREATE TABLE x (id int DEFAULT 5, name varchar(20) DEFAULT 'n')",
  "ALTER TABLE t ADD COLUMN c numeric(10, 2) DEFAULT 0",
  "CREATE INDEX i ON t (a) WHERE b > 10",
  "CREATE VIEW v AS SELECT * FROM t WHERE a = 1",
  "DROP TABLE IF EXISTS a, b",
  "TRUNCATE t",
  "COMMENT ON TABLE t IS 'secret table'",
  "COPY t TO STDOUT WITH (FORMAT csv, DELIMITER ',')",
  "COPY t FROM STDIN WITH (FORMAT csv)",
  "COPY t TO '/tmp/out.csv'",
  "COPY t FROM PROGRAM 'cat /etc/passwd'",
  "COPY (SELECT * FROM t WHERE a = 1) TO STDOUT",
  "EXPLAIN SELECT * FROM t WHERE a = 1",
  "EXPLAIN ANALYZE DELETE FROM t WHERE a = 1",
  "EXPLAIN (ANALYZE 0) UPDATE t SET a = 2",
  "SET ROLE 'postgres'",
  "SET LOCAL statement_timeout = '5s'",
  "SET search_path = 'evil'",
  "SET client_encoding = 'LATIN1'",
  "RESET ALL",
  "SHOW work_mem",
  "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY",
  "SET TRANSACTION READ WRITE",
  "COMMIT",
  "SAVEPOINT s1",
  "PREPARE p (int) AS SELECT * FROM t WHERE a = $1 AND b = 3",
  "EXECUTE p (5)",
  "DEALLOCATE p",
  "DECLARE c CURSOR FOR SELECT * FROM t WHERE a = 7",
  "FETCH 10 FROM c",
  "CALL proc(1, 'x')",
  "DO $$ BEGIN PERFORM 1; END $$",
  "NOTIFY ch, 'payload'",
  "LISTEN ch",
  "LOCK TABLE t IN SHARE MODE",
  "VACUUM (ANALYZE true) t",
  "GRANT SELECT ON t TO bob",
  "CREATE FUNCTION f(int) RETURNS int LANGUAGE sql AS 'SELECT 1'",
  "ALTER SYSTEM SET work_mem = '64MB'",
  "SELECT 1; DELETE FROM t WHERE id = 2",
];

/** A literal variant: every integer and every simple string constant changed. */
function variant(sql: string): string {
  return sql
    .replace(/(?<![$\w.])\d+(?![\w.])/g, (n) => String(Number(n) + 7))
    .replace(/'([^'\\]*)'/g, "'$1z'");
}

let fresh: ClassifyFresh;

beforeAll(async () => {
  await loadSqlParser();
  fresh = createFreshClassifier();
});

describe("normalized-text cache", () => {
  it("classifies literal variants exactly as a fresh classification would", () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(60);
    const cached = createCachedClassifier(fresh, 1000);
    for (const sql of CORPUS) cached.classify(sql);
    let varied = 0;
    let sameKey = 0;
    for (const sql of CORPUS) {
      const other = variant(sql);
      if (other === sql) continue;
      varied++;
      // Utility statements keep their constants in the normalized text: those variants are plain misses.
      const original = fresh(sql).classification;
      const single = original.ok && original.statements.length === 1;
      // set_config / SET search_path classifications look at their constants and are never reused.
      const reusable = fresh(sql).normalizable;
      if (single && reusable && normalizeSql(other) === normalizeSql(sql)) sameKey++;
      expect(cached.classify(other), other).toEqual(fresh(other).classification);
    }
    expect(varied).toBeGreaterThanOrEqual(60);
    // Every variant that could be served from the normalized cache was, and that is most of the corpus.
    expect(cached.stats.normalizedHits).toBe(sameKey);
    expect(sameKey).toBeGreaterThanOrEqual(40);
  });

  it("never reuses a classification that looked at its constants for another literal", () => {
    const cached = createCachedClassifier(fresh, 100);
    expect(cached.classify("SELECT set_config('search_path', '', false)")).toEqual(
      fresh("SELECT set_config('search_path', '', false)").classification,
    );
    const evil = cached.classify("SELECT set_config('role', 'postgres', false)");
    expect(evil.ok && evil.statements[0]!.accesses.map((a) => a.action)).toContain("sql:set_role");
    const path = cached.classify("SELECT set_config('search_path', 'evil', false)");
    expect(path.ok && path.statements[0]!.accesses.map((a) => a.action)).toContain("sql:set_protected");
    cached.classify("SET search_path = ''");
    const set = cached.classify("SET search_path = 'evil'");
    expect(set.ok && set.statements[0]!.accesses.map((a) => a.action)).toEqual(["sql:set_protected"]);
    expect(cached.stats.normalizedHits).toBe(0);
  });

  it("gives each variant its own statement text", () => {
    const cached = createCachedClassifier(fresh, 10);
    cached.classify("  SELECT * FROM t WHERE a = 'short' ; -- c");
    const result = cached.classify(
      "  SELECT * FROM t WHERE a = 'a much longer literal, with; semicolons' ; -- c",
    );
    expect(cached.stats.normalizedHits).toBe(1);
    expect(result.ok && result.statements[0]!.text).toBe(
      "SELECT * FROM t WHERE a = 'a much longer literal, with; semicolons'",
    );
  });

  it("answers repeated texts from the exact cache", () => {
    const cached = createCachedClassifier(fresh, 10);
    const first = cached.classify("SELECT 1");
    expect(cached.classify("SELECT 1")).toBe(first);
    expect(cached.stats).toEqual({ exactHits: 1, normalizedHits: 0, skeletonHits: 0, misses: 1 });
  });

  it("does not serve a multi-statement text from the normalized cache", () => {
    const cached = createCachedClassifier(fresh, 10);
    cached.classify("SELECT 1; SELECT 2");
    const result = cached.classify("SELECT 10; SELECT 200");
    expect(cached.stats.normalizedHits).toBe(0);
    expect(result.ok && result.statements.map((s) => s.text)).toEqual(["SELECT 10", "SELECT 200"]);
  });
});

describe("literal skeleton (integer variants without libpg-query)", () => {
  it("serves integer variants of a checked statement, each with its own text", () => {
    const cached = createCachedClassifier(fresh, 10);
    cached.classify("SELECT abalance FROM pgbench_accounts WHERE aid = 48213;");
    const result = cached.classify("SELECT abalance FROM pgbench_accounts WHERE aid = 7;");
    expect(cached.stats).toMatchObject({ skeletonHits: 1, normalizedHits: 1, misses: 1 });
    expect(result).toEqual(fresh("SELECT abalance FROM pgbench_accounts WHERE aid = 7;").classification);
    expect(result.ok && result.statements[0]!.text).toBe(
      "SELECT abalance FROM pgbench_accounts WHERE aid = 7",
    );
  });

  it("never merges texts whose integers libpg-query keeps, or that are not constants", () => {
    const pairs = [
      ["EXPLAIN (ANALYZE 0) UPDATE t SET a = 2", "EXPLAIN (ANALYZE 1) UPDATE t SET a = 2"],
      ["SELECT * FROM t1 WHERE a = 1", "SELECT * FROM t2 WHERE a = 1"],
      ["SELECT 5 # 3", "SELECT # # 3"],
      ["FETCH 10 FROM c", "FETCH 11 FROM c"],
      ["SELECT * FROM t WHERE a = -5", "SELECT * FROM t WHERE a = -6"],
      ["VACUUM (ANALYZE 0) t", "VACUUM (ANALYZE 1) t"],
      ["SELECT 1; DELETE FROM t WHERE id = 2", "SELECT 1; DELETE FROM t WHERE id = 3"],
      ["SELECT * FROM t WHERE a = 1 -- 2", "SELECT * FROM t WHERE a = 1 -- 3"],
    ];
    for (const [first, second] of pairs) {
      const cached = createCachedClassifier(fresh, 10);
      cached.classify(first!);
      expect(cached.classify(second!), second).toEqual(fresh(second!).classification);
      expect(cached.stats.skeletonHits, second).toBe(0);
    }
  });

  it("agrees with a fresh classification for every integer variant of the corpus", () => {
    const cached = createCachedClassifier(fresh, 1000);
    for (const sql of CORPUS) cached.classify(sql);
    for (const sql of CORPUS) {
      for (const shift of [1, 13, 99999]) {
        const other = sql.replace(/(?<![$\w.])\d+(?![\w.])/g, (n) => String(Number(n) + shift));
        expect(cached.classify(other), other).toEqual(fresh(other).classification);
      }
    }
    expect(cached.stats.skeletonHits).toBeGreaterThanOrEqual(20);
  });
});

describe("BoundedCache", () => {
  it("keeps recently used entries and holds at most its capacity", () => {
    const cache = new BoundedCache<string, number>(4); // two generations of two
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("c", 3); // young {c}, old {a, b}
    expect(cache.get("a")).toBe(1); // used: back into the young generation {c, a}
    cache.set("d", 4); // young full: {d}, old {c, a}; b is gone
    expect([cache.get("b"), cache.get("c"), cache.get("d")]).toEqual([undefined, 3, 4]);
    expect(cache.get("a")).toBe(1);
    for (let i = 0; i < 100; i++) cache.set(`k${i}`, i);
    expect(cache.size).toBeLessThanOrEqual(4);
    expect(cache.get("k99")).toBe(99);
    expect(cache.get("a")).toBeUndefined();
  });

  it("replaces a key's value without starting a new generation", () => {
    const cache = new BoundedCache<string, number>(4);
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("b", 3);
    cache.set("c", 4);
    expect([cache.get("a"), cache.get("b"), cache.get("c")]).toEqual([1, 3, 4]);
  });

  it("keeps nothing with no capacity", () => {
    const cache = new BoundedCache<string, number>(0);
    cache.set("a", 1);
    expect(cache.get("a")).toBeUndefined();
  });
});
