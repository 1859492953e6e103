import { beforeAll, describe, expect, it } from "vitest";
import type { ClassifiedStatement, StatementClassifier } from "../../src/sql/classification.js";
import { createStatementClassifier, loadSqlParser } from "../../src/sql/postgres/create-classifier.js";
import { STATEMENT_HANDLERS } from "../../src/sql/postgres/statement-handlers.js";
import { STATEMENT_RULES } from "../../src/sql/postgres/statement-verbs.js";

let classifier: StatementClassifier;

beforeAll(async () => {
  await loadSqlParser();
  classifier = createStatementClassifier();
});

function statements(sql: string): readonly ClassifiedStatement[] {
  const result = classifier.classify(sql);
  if (!result.ok) throw new Error(`${result.failure}: ${result.reason}`);
  return result.statements;
}

function one(sql: string): ClassifiedStatement {
  const all = statements(sql);
  expect(all).toHaveLength(1);
  return all[0]!;
}

/** "action resource" strings, e.g. "sql:select public.users", "sql:set_role Connection". */
function accesses(sql: string): string[] {
  return one(sql).accesses.map(
    (a) => `${a.action} ${"name" in a.resource ? a.resource.name : a.resource.type}`,
  );
}

describe("loading", () => {
  it("fails closed before the parser is loaded is not observable after load, and load is idempotent", async () => {
    await expect(loadSqlParser()).resolves.toBeUndefined();
    expect(loadSqlParser()).toBe(loadSqlParser());
  });

  it("keeps every node type in exactly one place (rule table or handler)", () => {
    for (const type of Object.keys(STATEMENT_HANDLERS)) expect(STATEMENT_RULES[type]).toBeUndefined();
  });
});

describe("reads", () => {
  it("reports a SELECT without tables on the connection", () => {
    expect(accesses("SELECT 1")).toEqual(["sql:select Connection"]);
    expect(one("SELECT 1").readOnly).toBe(true);
  });

  it("qualifies and folds table names the way PostgreSQL does", () => {
    const statement = one('SELECT * FROM Users u JOIN "Orders" o ON true JOIN sales.items i ON true');
    expect(statement.tablesRead).toEqual(["public.users", "public.Orders", "sales.items"]);
    expect(statement.verb).toBe("sql:select");
    expect(statement.readOnly).toBe(true);
  });

  it("treats catalog reads as ordinary reads", () => {
    expect(one("SELECT * FROM pg_catalog.pg_class, information_schema.tables").tablesRead).toEqual([
      "pg_catalog.pg_class",
      "information_schema.tables",
    ]);
  });

  it("finds tables in subqueries, set operations, lateral joins and TABLE", () => {
    expect(
      [...one("SELECT (SELECT max(id) FROM a) FROM b WHERE x IN (SELECT y FROM c)").tablesRead].sort(),
    ).toEqual(["public.a", "public.b", "public.c"]);
    expect(one("SELECT 1 FROM a UNION SELECT 2 FROM b").tablesRead).toEqual(["public.a", "public.b"]);
    expect(one("SELECT * FROM a, LATERAL (SELECT * FROM b WHERE b.x = a.x) l").tablesRead).toEqual([
      "public.a",
      "public.b",
    ]);
    expect(accesses("TABLE t")).toEqual(["sql:select public.t"]);
  });

  it("does not count safe built-ins as function accesses but lists them", () => {
    const statement = one("SELECT lower(name), count(*), pg_catalog.upper(name), now() FROM t");
    expect(statement.functions).toEqual(["lower", "count", "pg_catalog.upper", "now"]);
    expect(statement.accesses.map((a) => a.action)).toEqual(["sql:select"]);
    expect(statement.readOnly).toBe(true);
  });
});

describe("CTE scoping", () => {
  it("does not report a CTE name as a table", () => {
    expect(one("WITH x AS (SELECT * FROM t) SELECT * FROM x").tablesRead).toEqual(["public.t"]);
  });

  it("lets a plain CTE body read the real table of the same name", () => {
    expect(one("WITH users AS (SELECT * FROM users) SELECT * FROM users").tablesRead).toEqual([
      "public.users",
    ]);
  });

  it("scopes a CTE to its own WITH only", () => {
    const statement = one("SELECT * FROM (WITH t AS (SELECT 1) SELECT * FROM t) s, t");
    expect(statement.tablesRead).toEqual(["public.t"]);
  });

  it("never treats a schema-qualified name as a CTE", () => {
    expect(one("WITH t AS (SELECT 1) SELECT * FROM public.t").tablesRead).toEqual(["public.t"]);
  });

  it("sees every CTE name inside WITH RECURSIVE", () => {
    const sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r";
    expect(accesses(sql)).toEqual(["sql:select Connection"]);
  });
});

describe("writes", () => {
  it("classifies INSERT, UPDATE, DELETE and their WHERE", () => {
    expect(accesses("INSERT INTO t (a) SELECT a FROM s")).toEqual([
      "sql:insert public.t",
      "sql:select public.s",
    ]);
    const update = one("UPDATE t SET a = 1");
    expect([update.verb, update.hasWhere, update.readOnly]).toEqual(["sql:update", false, false]);
    expect(one("UPDATE t SET a = 1 WHERE id = 2").hasWhere).toBe(true);
    expect(one("DELETE FROM t").hasWhere).toBe(false);
    expect(one("DELETE FROM t WHERE id = 1").tablesWritten).toEqual(["public.t"]);
  });

  it("reports the target of RETURNING as read", () => {
    expect(accesses("DELETE FROM t WHERE id = 1 RETURNING *")).toEqual([
      "sql:delete public.t",
      "sql:select public.t",
    ]);
  });

  it("reports what MERGE and ON CONFLICT imply", () => {
    expect(
      accesses(
        "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT VALUES (s.id)",
      ),
    ).toEqual(["sql:merge public.t", "sql:update public.t", "sql:insert public.t", "sql:select public.s"]);
    expect(accesses("INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 2")).toEqual([
      "sql:insert public.t",
      "sql:update public.t",
    ]);
    expect(accesses("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING")).toEqual(["sql:insert public.t"]);
  });

  it("classifies TRUNCATE and LOCK per table", () => {
    expect(accesses("TRUNCATE a, b")).toEqual(["sql:truncate public.a", "sql:truncate public.b"]);
    expect(accesses("LOCK TABLE a IN EXCLUSIVE MODE")).toEqual(["sql:lock public.a"]);
  });

  it("reports writes nested in CTEs with hasWhere of the nested statement", () => {
    const statement = one("WITH d AS (UPDATE t SET a = 1 RETURNING id) SELECT * FROM d");
    expect(accesses("WITH d AS (UPDATE t SET a = 1 RETURNING id) SELECT * FROM d")).toEqual([
      "sql:select public.t",
      "sql:update public.t",
    ]);
    expect(statement.hasWhere).toBe(false);
    expect(statement.readOnly).toBe(false);
  });
});

describe("DDL, admin, grants, maintenance", () => {
  it("names the table a DDL statement targets", () => {
    expect(accesses("CREATE TABLE s.t (id int)")).toEqual(["sql:ddl s.t"]);
    expect(accesses("ALTER TABLE t ADD COLUMN c int")).toEqual(["sql:ddl public.t"]);
    expect(accesses("DROP TABLE a, s.b")).toEqual(["sql:ddl public.a", "sql:ddl s.b"]);
    expect(accesses("CREATE INDEX i ON t (a)")).toEqual(["sql:ddl public.t"]);
    expect(accesses("CREATE TEMP TABLE x (a int)")).toEqual(["sql:ddl pg_temp.x"]);
    expect(accesses("CREATE SCHEMA s CREATE TABLE t (a int)")).toEqual(["sql:ddl Connection", "sql:ddl s.t"]);
    expect(accesses("COMMENT ON TABLE t IS 'x'")).toEqual(["sql:ddl Connection"]);
  });

  it("treats CREATE TABLE AS and SELECT INTO as DDL reading their sources", () => {
    expect(accesses("CREATE TABLE n AS SELECT * FROM t")).toEqual([
      "sql:ddl public.n",
      "sql:select public.t",
    ]);
    const into = one("SELECT * INTO n FROM t");
    expect(into.verb).toBe("sql:ddl");
    expect(into.tablesWritten).toEqual(["public.n"]);
    expect(into.tablesRead).toEqual(["public.t"]);
  });

  it("separates functions in trusted and untrusted languages", () => {
    expect(one("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'").verb).toBe("sql:ddl");
    expect(one("CREATE FUNCTION f() RETURNS int LANGUAGE c AS 'lib', 'f'").verb).toBe("sql:admin");
    expect(one("CREATE FUNCTION f() RETURNS int LANGUAGE plpython3u AS 'return 1'").verb).toBe("sql:admin");
  });

  it("classifies server administration as sql:admin", () => {
    for (const sql of [
      "ALTER SYSTEM SET work_mem = '1GB'",
      "LOAD 'auto_explain'",
      "CREATE EXTENSION dblink",
      "CREATE DATABASE x",
      "CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw",
      "DROP EXTENSION dblink",
      "COMMIT PREPARED 'x'",
    ]) {
      expect(one(sql).verb, sql).toBe("sql:admin");
    }
  });

  it("classifies privileges and maintenance", () => {
    expect(accesses("GRANT SELECT ON t TO bob")).toEqual(["sql:grant public.t"]);
    expect(accesses("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM bob")).toEqual(["sql:grant Connection"]);
    expect(one("CREATE ROLE bob").verb).toBe("sql:grant");
    expect(one("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob").verb).toBe("sql:grant");
    expect(accesses("VACUUM ANALYZE t")).toEqual(["sql:maintenance public.t"]);
    expect(accesses("REFRESH MATERIALIZED VIEW m")).toEqual(["sql:maintenance public.m"]);
    expect(accesses("CHECKPOINT")).toEqual(["sql:maintenance Connection"]);
  });
});

describe("COPY", () => {
  it("distinguishes STDOUT, STDIN, files and programs", () => {
    expect(accesses("COPY t TO STDOUT")).toEqual(["sql:copy_to public.t", "sql:select public.t"]);
    expect(one("COPY t TO STDOUT").readOnly).toBe(true);
    expect(accesses("COPY t FROM STDIN")).toEqual(["sql:copy_from public.t", "sql:insert public.t"]);
    expect(accesses("COPY t TO '/tmp/x'")[0]).toBe("sql:copy_file Connection");
    expect(accesses("COPY t FROM PROGRAM 'id'")[0]).toBe("sql:copy_program Connection");
    expect(accesses("COPY (SELECT * FROM a) TO STDOUT")).toEqual([
      "sql:copy_to public.a",
      "sql:select public.a",
    ]);
  });
});

describe("EXPLAIN", () => {
  it("only plans without ANALYZE", () => {
    const statement = one("EXPLAIN DELETE FROM t");
    expect(accesses("EXPLAIN DELETE FROM t")).toEqual(["sql:explain public.t"]);
    expect([statement.readOnly, statement.tablesWritten]).toEqual([true, []]);
    expect(accesses("EXPLAIN SELECT 1")).toEqual(["sql:explain Connection"]);
  });

  it("classifies the inner statement as executed with ANALYZE (whatever the option's value)", () => {
    expect(accesses("EXPLAIN ANALYZE DELETE FROM t")).toEqual([
      "sql:explain public.t",
      "sql:delete public.t",
    ]);
    expect(one("EXPLAIN (ANALYZE false) DELETE FROM t").readOnly).toBe(false);
  });

  it("still reports functions the planner might fold", () => {
    expect(accesses("EXPLAIN SELECT my_udf()")).toEqual(["sql:explain Connection", "sql:function my_udf"]);
  });
});

describe("session statements", () => {
  it("classifies SET by setting", () => {
    expect(accesses("SET ROLE admin")).toEqual(["sql:set_role Connection"]);
    expect(one("SET LOCAL ROLE admin").verb).toBe("sql:set_role");
    expect(one("SET SESSION AUTHORIZATION bob").verb).toBe("sql:set_role");
    expect(one("RESET ROLE").verb).toBe("sql:set_role");
    expect(one("RESET ALL").verb).toBe("sql:set_role");
    expect(one("DISCARD ALL").verb).toBe("sql:set_role");
    expect(one("SET search_path = evil, public").verb).toBe("sql:set_protected");
    expect(one("SET NAMES 'SQL_ASCII'").verb).toBe("sql:set_protected");
    expect(one("SET standard_conforming_strings = off").verb).toBe("sql:set_protected");
    expect(one("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE").verb).toBe("sql:set_protected");
    const ordinary = one("SET statement_timeout = '5s'");
    expect([ordinary.verb, ordinary.readOnly]).toEqual(["sql:set", true]);
  });

  it("classifies transaction control and housekeeping as sql:session", () => {
    for (const sql of [
      "BEGIN",
      "BEGIN READ WRITE",
      "START TRANSACTION ISOLATION LEVEL SERIALIZABLE",
      "SET TRANSACTION READ WRITE",
      "COMMIT",
      "ROLLBACK",
      "SAVEPOINT a",
      "RELEASE a",
      "ROLLBACK TO a",
      "SHOW work_mem",
      "DISCARD PLANS",
      "FETCH 10 FROM c",
      "MOVE NEXT IN c",
      "CLOSE c",
      "LISTEN ch",
      "UNLISTEN *",
      "SET CONSTRAINTS ALL DEFERRED",
    ]) {
      const statement = one(sql);
      expect([sql, statement.verb, statement.readOnly]).toEqual([sql, "sql:session", true]);
    }
    expect(accesses("NOTIFY ch, 'x'")).toEqual(["sql:notify Connection"]);
  });

  it("tracks PREPARE, EXECUTE and DEALLOCATE", () => {
    const prepare = one("PREPARE p (int) AS DELETE FROM t WHERE id = $1");
    expect(prepare.prepares?.name).toBe("p");
    expect(prepare.prepares?.inner.verb).toBe("sql:delete");
    expect(prepare.accesses.map((a) => a.action)).toEqual(["sql:prepare", "sql:delete"]);
    const execute = one("EXECUTE p (1)");
    expect([execute.executes, execute.readOnly, execute.accesses.map((a) => a.action)]).toEqual([
      "p",
      false,
      ["sql:execute"],
    ]);
    expect(one("DEALLOCATE p").deallocates).toBe("p");
    expect(one("DEALLOCATE ALL").deallocates).toBe("*");
    expect(one("DISCARD ALL").deallocates).toBe("*");
  });

  it("classifies CALL and DO", () => {
    expect(accesses("CALL s.proc(1)")).toEqual(["sql:call s.proc"]);
    expect(accesses("DO $$ BEGIN NULL; END $$")).toEqual(["sql:do Connection"]);
  });

  it("classifies DECLARE CURSOR by its query", () => {
    expect(accesses("DECLARE c CURSOR FOR SELECT * FROM t")).toEqual(["sql:select public.t"]);
  });
});

describe("functions", () => {
  it("separates safe, ordinary and admin functions with one canonical name per built-in", () => {
    expect(accesses("SELECT nextval('s')")).toEqual([
      "sql:select Connection",
      "sql:function pg_catalog.nextval",
    ]);
    expect(accesses("SELECT pg_catalog.pg_sleep(1)")).toEqual([
      "sql:select Connection",
      "sql:admin_function pg_catalog.pg_sleep",
    ]);
    expect(accesses("SELECT pg_sleep(1)")).toEqual([
      "sql:select Connection",
      "sql:admin_function pg_catalog.pg_sleep",
    ]);
    expect(accesses("SELECT public.lower('x')")).toEqual([
      "sql:select Connection",
      "sql:function public.lower",
    ]);
    expect(accesses("SELECT \"LOWER\"('x')")).toEqual(["sql:select Connection", "sql:function LOWER"]);
  });

  it("honours the configured dangerous and safe lists", () => {
    const custom = createStatementClassifier({
      dangerousFunctions: ["wipe"],
      safeFunctions: ["app.slugify"],
    });
    const result = custom.classify("SELECT app.slugify(x), wipe() FROM t");
    expect(result.ok && result.statements[0]!.accesses.map((a) => a.action)).toEqual([
      "sql:select",
      "sql:admin_function",
    ]);
  });
});

describe("multi-statement text", () => {
  it("cuts each statement's text out of the input", () => {
    const all = statements("SELECT 1;  DELETE FROM t WHERE a = 1 ;\n-- trailing");
    expect(all.map((s) => s.text)).toEqual(["SELECT 1", "DELETE FROM t WHERE a = 1"]);
    expect(all.map((s) => s.verb)).toEqual(["sql:select", "sql:delete"]);
  });

  it("converts UTF-8 byte offsets for non-ASCII text", () => {
    const all = statements("SELECT 'héllo 😀' AS \"名前\"; UPDATE t SET a = 'ü' WHERE b = '日本'; SELECT 2");
    expect(all.map((s) => s.text)).toEqual([
      "SELECT 'héllo 😀' AS \"名前\"",
      "UPDATE t SET a = 'ü' WHERE b = '日本'",
      "SELECT 2",
    ]);
  });

  it("accepts empty and comment-only text as zero statements", () => {
    expect(classifier.classify("")).toEqual({ ok: true, statements: [] });
    expect(classifier.classify("  \n ")).toEqual({ ok: true, statements: [] });
    expect(classifier.classify("-- nothing /* here */")).toEqual({ ok: true, statements: [] });
    expect(classifier.classify(";")).toEqual({ ok: true, statements: [] });
  });

  it("reports the parser's message for a syntax error", () => {
    expect(classifier.classify("SELEC 1")).toEqual({
      ok: false,
      failure: "unparseable",
      reason: 'syntax error at or near "SELEC"',
    });
  });
});
