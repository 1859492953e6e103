/**
 * MySQL/MariaDB evasions: every way found to hide a write, a file access, a privilege change or dynamic SQL
 * from the classifier. Used by the bypass test (classifier only) and the differential test (against the real
 * server, as a low-privilege user in a rolled-back transaction). Kept forever; add, never delete.
 *
 * `reports`: "action" or "action resource" some statement must report, or FAILS_CLOSED. The corpus runs with
 * the current database `shop`; tables `shop.users`, `shop.orders` and `other.secrets` exist in the differential
 * test.
 */
export const FAILS_CLOSED = "fails closed";

export interface MysqlBypassCase {
  readonly name: string;
  readonly sql: string;
  readonly reports: string;
}

export const MYSQL_BYPASS_CASES: readonly MysqlBypassCase[] = [
  // ---- executable comments
  {
    name: "executable comment hides a subquery read",
    sql: "SELECT 1 /*!, (SELECT count(*) FROM other.secrets) */",
    reports: "sql:select other.secrets",
  },
  {
    name: "versioned executable comment",
    sql: "SELECT 1 /*!50000 , (SELECT count(*) FROM other.secrets) */",
    reports: "sql:select other.secrets",
  },
  {
    name: "MariaDB-only executable comment",
    sql: "SELECT 1 /*M!100000 , (SELECT count(*) FROM other.secrets) */",
    reports: "sql:select other.secrets",
  },
  {
    name: "executable comment turns a SELECT into a DELETE",
    sql: "/*!DELETE FROM users*/",
    reports: "sql:delete shop.users",
  },
  {
    name: "executable comment with a statement separator",
    sql: "SELECT 1 /*!; DELETE FROM users */",
    reports: FAILS_CLOSED,
  },
  {
    name: "future-version executable comment with a separator",
    sql: "SELECT 1 /*!99999 ; DELETE FROM users */",
    reports: FAILS_CLOSED,
  },
  {
    name: "line comment inside an executable comment",
    sql: "SELECT 1 /*!50000 -- */ , (SELECT 1 FROM other.secrets)",
    reports: FAILS_CLOSED,
  },
  {
    name: "hash comment inside an executable comment",
    sql: "SELECT 1 /*!50000 # */ FROM other.secrets",
    reports: FAILS_CLOSED,
  },
  {
    name: "quote that closes outside the executable comment",
    sql: "SELECT '/*!' , 1 FROM users WHERE '*/' = 1",
    reports: "sql:select shop.users",
  },
  {
    name: "nested comment inside an executable comment",
    sql: "SELECT 1 /*! /* */ DELETE FROM users */",
    reports: FAILS_CLOSED,
  },
  { name: "unterminated executable comment", sql: "SELECT 1 /*! DELETE FROM users", reports: FAILS_CLOSED },
  {
    name: "executable comment wrapping an UPDATE keyword",
    sql: "/*!50000UPDATE*/ users SET name = 'x' WHERE id = 1",
    reports: "sql:update shop.users",
  },
  // ---- ordinary comment forms
  {
    name: "-- without a space is a double minus, not a comment",
    sql: "SELECT 1 --1 ; DELETE FROM users",
    reports: "sql:delete shop.users",
  },
  {
    name: "-- with a tab is a comment",
    sql: "SELECT 1 --\t; DELETE FROM users\nFROM users",
    reports: "sql:select shop.users",
  },
  {
    name: "# comment ends at the newline",
    sql: "SELECT 1 # harmless\n; DELETE FROM users",
    reports: "sql:delete shop.users",
  },
  {
    name: "block comment between keywords",
    sql: "DELETE/**/FROM/**/users",
    reports: "sql:delete shop.users",
  },
  {
    name: "statement after a block comment",
    sql: "/* hi */ DELETE FROM users WHERE 1",
    reports: "sql:delete shop.users",
  },
  { name: "NUL byte in the text", sql: "SELECT 1\u0000; DELETE FROM users", reports: FAILS_CLOSED },
  // ---- quoting
  { name: "backticked table", sql: "DELETE FROM `users`", reports: "sql:delete shop.users" },
  {
    name: "backticked qualified table",
    sql: "DELETE FROM `other`.`secrets`",
    reports: "sql:delete other.secrets",
  },
  {
    name: "backtick with a doubled backtick",
    sql: "SELECT * FROM `us``ers`",
    reports: "sql:select shop.us`ers",
  },
  {
    name: "backslash-escaped quote keeps the string open",
    sql: "SELECT 'a\\'; DELETE FROM users; -- '",
    reports: "sql:select",
  },
  {
    name: "doubled quote keeps the string open",
    sql: "SELECT 'a''; DELETE FROM users; -- '",
    reports: "sql:select",
  },
  {
    name: "double-quoted string (ANSI_QUOTES would make it an identifier)",
    sql: 'SELECT * FROM users WHERE name = "x"',
    reports: "sql:select shop.users",
  },
  {
    name: "upper-case table name is the same resource",
    sql: "DELETE FROM USERS",
    reports: "sql:delete shop.users",
  },
  { name: "unterminated string", sql: "SELECT 'abc", reports: FAILS_CLOSED },
  { name: "unterminated backtick", sql: "SELECT * FROM `users", reports: FAILS_CLOSED },
  // ---- multi-statement
  {
    name: "second statement is a write",
    sql: "SELECT 1; DELETE FROM users",
    reports: "sql:delete shop.users",
  },
  {
    name: "write after an empty statement",
    sql: "SELECT 1;; UPDATE users SET name = 'x'",
    reports: "sql:update shop.users",
  },
  {
    name: "USE then an unqualified read in one text",
    sql: "USE other; SELECT * FROM secrets",
    reports: FAILS_CLOSED,
  },
  // ---- dynamic SQL
  { name: "PREPARE from a user variable", sql: "PREPARE s FROM @q", reports: FAILS_CLOSED },
  {
    name: "PREPARE from a concatenation",
    sql: "PREPARE s FROM CONCAT('DELETE ', 'FROM users')",
    reports: FAILS_CLOSED,
  },
  {
    name: "PREPARE from a literal write is judged as the write",
    sql: "PREPARE s FROM 'DELETE FROM users'",
    reports: "sql:delete shop.users",
  },
  {
    name: "PREPARE from a literal hiding two statements",
    sql: "PREPARE s FROM 'SELECT 1; DELETE FROM users'",
    reports: FAILS_CLOSED,
  },
  { name: "EXECUTE is never read-only by itself", sql: "EXECUTE s", reports: "sql:execute" },
  // ---- files and server programs
  { name: "SELECT INTO OUTFILE", sql: "SELECT * FROM users INTO OUTFILE '/tmp/x'", reports: FAILS_CLOSED },
  {
    name: "SELECT INTO DUMPFILE",
    sql: "SELECT name FROM users LIMIT 1 INTO DUMPFILE '/tmp/x'",
    reports: FAILS_CLOSED,
  },
  { name: "SELECT INTO a variable", sql: "SELECT name INTO @n FROM users LIMIT 1", reports: FAILS_CLOSED },
  { name: "LOAD_FILE", sql: "SELECT LOAD_FILE('/etc/passwd')", reports: "sql:admin_function load_file" },
  {
    name: "load_file in a WHERE clause",
    sql: "SELECT 1 FROM users WHERE name = load_file('/etc/hosts')",
    reports: "sql:admin_function load_file",
  },
  {
    name: "LOAD DATA INFILE (server file)",
    sql: "LOAD DATA INFILE '/etc/passwd' INTO TABLE users",
    reports: "sql:copy_file",
  },
  {
    name: "LOAD DATA LOCAL INFILE",
    sql: "LOAD DATA LOCAL INFILE '/etc/passwd' INTO TABLE users",
    reports: FAILS_CLOSED,
  },
  {
    name: "LOAD XML LOCAL",
    sql: "LOAD XML LOCAL INFILE '/tmp/x.xml' INTO TABLE users",
    reports: FAILS_CLOSED,
  },
  { name: "sys_exec UDF", sql: "SELECT sys_exec('id')", reports: "sql:admin_function sys_exec" },
  { name: "sys_eval UDF", sql: "SELECT sys_eval('id')", reports: "sql:admin_function sys_eval" },
  {
    name: "unknown stored function may write",
    sql: "SELECT shop_touch(1)",
    reports: "sql:function shop_touch",
  },
  { name: "qualified stored function", sql: "SELECT other.f(1)", reports: "sql:function other.f" },
  {
    name: "CREATE FUNCTION SONAME loads a library",
    sql: "CREATE FUNCTION sys_exec RETURNS INT SONAME 'lib_mysqludf_sys.so'",
    reports: FAILS_CLOSED,
  },
  { name: "INSTALL PLUGIN", sql: "INSTALL PLUGIN server_audit SONAME 'server_audit'", reports: FAILS_CLOSED },
  { name: "INSTALL SONAME", sql: "INSTALL SONAME 'ha_connect'", reports: FAILS_CLOSED },
  // ---- settings
  { name: "SET GLOBAL", sql: "SET GLOBAL max_connections = 1", reports: "sql:set_protected" },
  { name: "SET @@global.", sql: "SET @@global.general_log = 0", reports: "sql:set_protected" },
  {
    name: "SET SESSION sql_mode to ANSI_QUOTES",
    sql: "SET SESSION sql_mode = 'ANSI_QUOTES'",
    reports: FAILS_CLOSED,
  },
  {
    name: "SET sql_mode to NO_BACKSLASH_ESCAPES",
    sql: "SET sql_mode = 'NO_BACKSLASH_ESCAPES'",
    reports: FAILS_CLOSED,
  },
  { name: "SET @@sql_mode", sql: "SET @@sql_mode = ''", reports: FAILS_CLOSED },
  { name: "SET @@session.sql_mode", sql: "SET @@session.sql_mode = 'ANSI'", reports: FAILS_CLOSED },
  {
    name: "SET NAMES to a multi-byte charset (GBK backslash trick)",
    sql: "SET NAMES gbk",
    reports: FAILS_CLOSED,
  },
  { name: "SET character_set_client", sql: "SET character_set_client = 'sjis'", reports: FAILS_CLOSED },
  {
    name: "SET sql_log_bin hides writes from replicas",
    sql: "SET sql_log_bin = 0",
    reports: "sql:set_protected",
  },
  { name: "SET foreign_key_checks", sql: "SET foreign_key_checks = 0", reports: "sql:set_protected" },
  {
    name: "SET STATEMENT ... FOR",
    sql: "SET STATEMENT sql_mode = 'ANSI_QUOTES' FOR SELECT 1",
    reports: FAILS_CLOSED,
  },
  { name: "SET ROLE", sql: "SET ROLE dba", reports: "sql:set_role" },
  { name: "SET PASSWORD", sql: "SET PASSWORD = PASSWORD('x')", reports: "sql:grant" },
  { name: "SET PASSWORD FOR another user", sql: "SET PASSWORD FOR 'root'@'%' = 'x'", reports: "sql:grant" },
  { name: "SET DEFAULT ROLE", sql: "SET DEFAULT ROLE dba FOR app", reports: "sql:grant" },
  {
    name: "SET with a subquery reads the table",
    sql: "SET @x = (SELECT count(*) FROM other.secrets)",
    reports: "sql:select other.secrets",
  },
  // ---- statements that read or run past policy
  { name: "HANDLER OPEN", sql: "HANDLER users OPEN", reports: FAILS_CLOSED },
  { name: "HANDLER READ", sql: "HANDLER users READ FIRST", reports: FAILS_CLOSED },
  { name: "CALL a procedure", sql: "CALL cleanup()", reports: "sql:call cleanup" },
  { name: "DO with a function", sql: "DO sleep(1)", reports: "sql:do" },
  { name: "DO with a write in a function", sql: "DO shop_touch(1)", reports: "sql:do" },
  { name: "KILL", sql: "KILL 1", reports: "sql:admin_function kill" },
  { name: "KILL QUERY", sql: "KILL QUERY 1", reports: "sql:admin_function kill" },
  { name: "SHUTDOWN", sql: "SHUTDOWN", reports: FAILS_CLOSED },
  { name: "BINLOG", sql: "BINLOG 'abc'", reports: FAILS_CLOSED },
  { name: "CHANGE MASTER", sql: "CHANGE MASTER TO MASTER_HOST = 'evil'", reports: FAILS_CLOSED },
  {
    name: "CREATE EVENT",
    sql: "CREATE EVENT e ON SCHEDULE EVERY 1 SECOND DO DELETE FROM users",
    reports: FAILS_CLOSED,
  },
  {
    name: "CREATE TRIGGER",
    sql: "CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW DELETE FROM orders",
    reports: FAILS_CLOSED,
  },
  { name: "CREATE PROCEDURE", sql: "CREATE PROCEDURE p() DELETE FROM users", reports: FAILS_CLOSED },
  {
    name: "CREATE DEFINER view",
    sql: "CREATE DEFINER = root VIEW v AS SELECT * FROM other.secrets",
    reports: FAILS_CLOSED,
  },
  { name: "XA", sql: "XA START 'x'", reports: FAILS_CLOSED },
  // ---- writes in disguise
  {
    name: "REPLACE deletes colliding rows",
    sql: "REPLACE INTO users (id, name) VALUES (1, 'x')",
    reports: "sql:delete shop.users",
  },
  {
    name: "INSERT ... ON DUPLICATE KEY UPDATE updates",
    sql: "INSERT INTO users (id, name) VALUES (1, 'x') ON DUPLICATE KEY UPDATE name = 'y'",
    reports: "sql:update shop.users",
  },
  {
    name: "INSERT ... SELECT reads the source",
    sql: "INSERT INTO users (id, name) SELECT id, note FROM other.secrets",
    reports: "sql:select other.secrets",
  },
  {
    name: "CREATE TABLE ... SELECT reads the source",
    sql: "CREATE TABLE copy SELECT * FROM other.secrets",
    reports: "sql:select other.secrets",
  },
  {
    name: "CREATE TABLE ... SELECT creates",
    sql: "CREATE TABLE copy SELECT * FROM users",
    reports: "sql:ddl shop.copy",
  },
  {
    name: "CREATE VIEW reads",
    sql: "CREATE VIEW v AS SELECT * FROM other.secrets",
    reports: "sql:select other.secrets",
  },
  {
    name: "multi-table DELETE deletes the named table",
    sql: "DELETE u FROM users u JOIN orders o ON o.user_id = u.id",
    reports: "sql:delete shop.users",
  },
  {
    name: "DELETE ... FROM names the target",
    sql: "DELETE users FROM users JOIN orders ON orders.user_id = users.id",
    reports: "sql:delete shop.users",
  },
  {
    name: "multi-table UPDATE",
    sql: "UPDATE users, orders SET users.name = 'x' WHERE users.id = orders.user_id",
    reports: FAILS_CLOSED,
  },
  { name: "UPDATE without WHERE", sql: "UPDATE users SET name = 'x'", reports: "sql:update shop.users" },
  { name: "TRUNCATE", sql: "TRUNCATE users", reports: "sql:truncate shop.users" },
  { name: "DROP TABLE", sql: "DROP TABLE users", reports: "sql:ddl shop.users" },
  { name: "RENAME TABLE", sql: "RENAME TABLE users TO u2", reports: FAILS_CLOSED },
  { name: "ALTER TABLE", sql: "ALTER TABLE users ADD COLUMN x INT", reports: "sql:ddl shop.users" },
  // ---- locking reads
  {
    name: "SELECT ... FOR UPDATE locks",
    sql: "SELECT * FROM users FOR UPDATE",
    reports: "sql:lock shop.users",
  },
  {
    name: "SELECT ... LOCK IN SHARE MODE",
    sql: "SELECT * FROM users LOCK IN SHARE MODE",
    reports: FAILS_CLOSED,
  },
  { name: "LOCK TABLES", sql: "LOCK TABLES users WRITE", reports: "sql:lock" },
  // ---- privileges
  { name: "GRANT", sql: "GRANT ALL ON *.* TO app", reports: "sql:grant" },
  { name: "REVOKE", sql: "REVOKE SELECT ON shop.* FROM app", reports: "sql:grant" },
  { name: "CREATE USER", sql: "CREATE USER evil IDENTIFIED BY 'x'", reports: "sql:grant" },
  { name: "DROP USER", sql: "DROP USER app", reports: "sql:grant" },
  { name: "RENAME USER", sql: "RENAME USER app TO evil", reports: "sql:grant" },
  { name: "ALTER USER", sql: "ALTER USER app IDENTIFIED BY 'x'", reports: "sql:grant" },
  // ---- reads that must name the right table
  {
    name: "CTE name does not hide a real table",
    sql: "WITH users AS (SELECT * FROM other.secrets) SELECT * FROM users",
    reports: "sql:select other.secrets",
  },
  {
    name: "derived table",
    sql: "SELECT * FROM (SELECT * FROM other.secrets) d",
    reports: "sql:select other.secrets",
  },
  {
    name: "EXISTS subquery",
    sql: "SELECT 1 WHERE EXISTS (SELECT 1 FROM other.secrets)",
    reports: "sql:select other.secrets",
  },
  {
    name: "UNION",
    sql: "SELECT name FROM users UNION SELECT note FROM other.secrets",
    reports: "sql:select other.secrets",
  },
  { name: "EXPLAIN names the table", sql: "EXPLAIN SELECT * FROM other.secrets", reports: "sql:explain" },
  {
    name: "EXPLAIN ANALYZE runs the statement",
    sql: "EXPLAIN ANALYZE DELETE FROM users",
    reports: FAILS_CLOSED,
  },
  { name: "DESC reads table metadata", sql: "DESC other.secrets", reports: "sql:select other.secrets" },
  { name: "USE another database", sql: "USE other", reports: "sql:session" },
  { name: "DELETE target that is not in FROM", sql: "DELETE x FROM users", reports: FAILS_CLOSED },
  {
    name: "DELETE alias of a table in another database",
    sql: "DELETE s FROM other.secrets s JOIN users u ON u.id = s.id",
    reports: "sql:delete other.secrets",
  },
  { name: "three-part name", sql: "SELECT * FROM a.b.c", reports: FAILS_CLOSED },
];
