/**
 * Issue 18: the catalog queries of real database tools must pass a policy that permits only `sql:read`, while
 * the dangerous functions stay denied in the same shape of query. The list of catalog functions that count as
 * reads lives in src/sql/postgres/catalog-functions.ts.
 *
 * Sources:
 * - CAPTURED: every query psql 15.20 sent for `\dt`, `\d customers`, `\d+ customers`, `\l`, `\dn`, `\df`,
 *   `\du`, `\dv`, `\di`, `\dx` (captured with `psql -E` against PostgreSQL 15 with a table `customers` and one
 *   SQL function), and the catalog SELECTs pg_dump 15 -s sent (captured with log_statement=all). pg_dump's
 *   `set_config('search_path', '', false)`, `LOCK TABLE ... IN ACCESS SHARE MODE` and its `SET`
 *   statements are checked apart: a setting (sql:set) and reads; test/e2e/pg-dump.test.ts runs pg_dump -s.
 * - CAPTURED_TOOL_QUERIES (captured-tool-queries.ts): every catalog query SQLAlchemy, pgcli, Kysely, TypeORM,
 *   Sequelize and drizzle-kit sent when run against a real server here.
 * - FROM_SOURCES: catalog queries of tools that cannot run on this machine (pgAdmin, DBeaver, DataGrip, Metabase,
 *   Grafana, Prisma), written from their public sources (the origin is named on each); oids and names are
 *   filled in where the tool binds them. Replace them with captures when those tools can run in CI.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACTIONS, isKnownAction } from "../../src/policy/policy-actions.js";
import type { ClassifiedStatement, StatementClassifier } from "../../src/sql/classification.js";
import { createStatementClassifier, loadSqlParser } from "../../src/sql/postgres/create-classifier.js";
import { CAPTURED_TOOL_QUERIES } from "./captured-tool-queries.js";

interface CorpusQuery {
  readonly tool: string;
  readonly sql: string;
  readonly params?: readonly (string | null)[];
}

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

/** "action resource" strings of every access, e.g. "sql:select pg_catalog.pg_class". */
function accesses(sql: string): string[] {
  return statements(sql).flatMap((statement) =>
    statement.accesses.map((a) => `${a.action} ${"name" in a.resource ? a.resource.name : a.resource.type}`),
  );
}

/** The accesses whose action is not in the sql:read group: what a read-only policy would deny. */
function nonReads(sql: string): string[] {
  return statements(sql).flatMap((statement) =>
    statement.accesses
      .filter((a) => !isKnownAction(a.action) || ACTIONS[a.action].group !== "sql:read")
      .map((a) => `${a.action} ${"name" in a.resource ? a.resource.name : a.resource.type}`),
  );
}

const CAPTURED: readonly CorpusQuery[] = [
  {
    tool: "psql 15 \\dt",
    sql: `SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
WHERE c.relkind IN ('r','p','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
  },
  {
    tool: "psql 15 \\d customers",
    sql: `SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(customers)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;`,
  },
  {
    tool: "psql 15 \\d customers",
    sql: `SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '16438';`,
  },
  {
    tool: "psql 15 \\d customers",
    sql: `SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '16438' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
  },
  {
    tool: "psql 15 \\d customers",
    sql: `SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '16438' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;`,
  },
  {
    tool: "psql 15 \\d customers",
    sql: `SELECT r.conname, pg_catalog.pg_get_constraintdef(r.oid, true)
FROM pg_catalog.pg_constraint r
WHERE r.conrelid = '16438' AND r.contype = 'c'
ORDER BY 1;`,
  },
  {
    tool: "psql 15 \\d customers",
    sql: `SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '16438' ORDER BY 1;`,
  },
  {
    tool: "psql 15 \\d customers",
    sql: `SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '16438'
ORDER BY nsp, stxname;`,
  },
  {
    tool: "psql 15 \\d customers",
    sql: `SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='16438' and pg_catalog.pg_relation_is_publishable('16438')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '16438'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('16438')
ORDER BY 1;`,
  },
  {
    tool: "psql 15 \\d customers",
    sql: `SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '16438'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;`,
  },
  {
    tool: "psql 15 \\d customers",
    sql: `SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhrelid AND i.inhparent = '16438'
ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;`,
  },
  {
    tool: "psql 15 \\l",
    sql: String.raw`SELECT d.datname as "Name",
       pg_catalog.pg_get_userbyid(d.datdba) as "Owner",
       pg_catalog.pg_encoding_to_char(d.encoding) as "Encoding",
       d.datcollate as "Collate",
       d.datctype as "Ctype",
       d.daticulocale as "ICU Locale",
       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS "Locale Provider",
       pg_catalog.array_to_string(d.datacl, E'\n') AS "Access privileges"
FROM pg_catalog.pg_database d
ORDER BY 1;`,
  },
  {
    tool: "psql 15 \\dn",
    sql: `SELECT n.nspname AS "Name",
  pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"
FROM pg_catalog.pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1;`,
  },
  {
    tool: "psql 15 \\df",
    sql: `SELECT n.nspname as "Schema",
  p.proname as "Name",
  pg_catalog.pg_get_function_result(p.oid) as "Result data type",
  pg_catalog.pg_get_function_arguments(p.oid) as "Argument data types",
 CASE p.prokind
  WHEN 'a' THEN 'agg'
  WHEN 'w' THEN 'window'
  WHEN 'p' THEN 'proc'
  ELSE 'func'
 END as "Type"
FROM pg_catalog.pg_proc p
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE pg_catalog.pg_function_is_visible(p.oid)
      AND n.nspname <> 'pg_catalog'
      AND n.nspname <> 'information_schema'
ORDER BY 1, 2, 4;`,
  },
  {
    tool: "psql 15 \\du",
    sql: `SELECT r.rolname, r.rolsuper, r.rolinherit,
  r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
  r.rolconnlimit, r.rolvaliduntil,
  ARRAY(SELECT b.rolname
        FROM pg_catalog.pg_auth_members m
        JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid)
        WHERE m.member = r.oid) as memberof
, r.rolreplication
, r.rolbypassrls
FROM pg_catalog.pg_roles r
WHERE r.rolname !~ '^pg_'
ORDER BY 1;`,
  },
  {
    tool: "psql 15 \\dv",
    sql: `SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
  },
  {
    tool: "psql 15 \\di",
    sql: `SELECT n.nspname as "Schema",
  c.relname as "Name",
  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type",
  pg_catalog.pg_get_userbyid(c.relowner) as "Owner",
  c2.relname as "Table"
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam
     LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
     LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid
WHERE c.relkind IN ('i','I','')
      AND n.nspname <> 'pg_catalog'
      AND n.nspname !~ '^pg_toast'
      AND n.nspname <> 'information_schema'
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 1,2;`,
  },
  {
    tool: "psql 15 \\d+ customers",
    sql: `SELECT c.oid,
  n.nspname,
  c.relname
FROM pg_catalog.pg_class c
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname OPERATOR(pg_catalog.~) '^(customers)$' COLLATE pg_catalog.default
  AND pg_catalog.pg_table_is_visible(c.oid)
ORDER BY 2, 3;`,
  },
  {
    tool: "psql 15 \\d+ customers",
    sql: `SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, pg_catalog.array_to_string(c.reloptions || array(select 'toast.' || x from pg_catalog.unnest(tc.reloptions) x), ', ')
, c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, am.amname
FROM pg_catalog.pg_class c
 LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)
LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)
WHERE c.oid = '16438';`,
  },
  {
    tool: "psql 15 \\d+ customers",
    sql: `SELECT a.attname,
  pg_catalog.format_type(a.atttypid, a.atttypmod),
  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)
   FROM pg_catalog.pg_attrdef d
   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),
  a.attnotnull,
  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t
   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation,
  a.attidentity,
  a.attgenerated,
  a.attstorage,
  a.attcompression AS attcompression,
  CASE WHEN a.attstattarget=-1 THEN NULL ELSE a.attstattarget END AS attstattarget,
  pg_catalog.col_description(a.attrelid, a.attnum)
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = '16438' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;`,
  },
  {
    tool: "psql 15 \\d+ customers",
    sql: `SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),
  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, condeferred, i.indisreplident, c2.reltablespace
FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i
  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x'))
WHERE c.oid = '16438' AND c.oid = i.indrelid AND i.indexrelid = c2.oid
ORDER BY i.indisprimary DESC, c2.relname;`,
  },
  {
    tool: "psql 15 \\d+ customers",
    sql: `SELECT r.conname, pg_catalog.pg_get_constraintdef(r.oid, true)
FROM pg_catalog.pg_constraint r
WHERE r.conrelid = '16438' AND r.contype = 'c'
ORDER BY 1;`,
  },
  {
    tool: "psql 15 \\d+ customers",
    sql: `SELECT pol.polname, pol.polpermissive,
  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = any (pol.polroles) order by 1),',') END,
  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),
  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),
  CASE pol.polcmd
    WHEN 'r' THEN 'SELECT'
    WHEN 'a' THEN 'INSERT'
    WHEN 'w' THEN 'UPDATE'
    WHEN 'd' THEN 'DELETE'
    END AS cmd
FROM pg_catalog.pg_policy pol
WHERE pol.polrelid = '16438' ORDER BY 1;`,
  },
  {
    tool: "psql 15 \\d+ customers",
    sql: `SELECT oid, stxrelid::pg_catalog.regclass, stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,
pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,
  'd' = any(stxkind) AS ndist_enabled,
  'f' = any(stxkind) AS deps_enabled,
  'm' = any(stxkind) AS mcv_enabled,
stxstattarget
FROM pg_catalog.pg_statistic_ext
WHERE stxrelid = '16438'
ORDER BY nsp, stxname;`,
  },
  {
    tool: "psql 15 \\d+ customers",
    sql: `SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid
     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid
WHERE pc.oid ='16438' and pg_catalog.pg_relation_is_publishable('16438')
UNION
SELECT pubname
     , pg_get_expr(pr.prqual, c.oid)
     , (CASE WHEN pr.prattrs IS NOT NULL THEN
         (SELECT string_agg(attname, ', ')
           FROM pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
                pg_catalog.pg_attribute
          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
        ELSE NULL END) FROM pg_catalog.pg_publication p
     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid
     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid
WHERE pr.prrelid = '16438'
UNION
SELECT pubname
     , NULL
     , NULL
FROM pg_catalog.pg_publication p
WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable('16438')
ORDER BY 1;`,
  },
  {
    tool: "psql 15 \\d+ customers",
    sql: `SELECT c.oid::pg_catalog.regclass
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhparent AND i.inhrelid = '16438'
  AND c.relkind != 'p' AND c.relkind != 'I'
ORDER BY inhseqno;`,
  },
  {
    tool: "psql 15 \\d+ customers",
    sql: `SELECT c.oid::pg_catalog.regclass, c.relkind, inhdetachpending, pg_catalog.pg_get_expr(c.relpartbound, c.oid)
FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i
WHERE c.oid = i.inhrelid AND i.inhparent = '16438'
ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', c.oid::pg_catalog.regclass::pg_catalog.text;`,
  },
  {
    tool: "psql 15 \\dx",
    sql: `SELECT e.extname AS "Name", e.extversion AS "Version", n.nspname AS "Schema", c.description AS "Description"
FROM pg_catalog.pg_extension e LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace LEFT JOIN pg_catalog.pg_description c ON c.objoid = e.oid AND c.classoid = 'pg_catalog.pg_extension'::pg_catalog.regclass
ORDER BY 1;`,
  },
  { tool: "pg_dump 15 -s", sql: `SELECT pg_catalog.pg_is_in_recovery()` },
  { tool: "pg_dump 15 -s", sql: `SELECT oid, rolname FROM pg_catalog.pg_roles ORDER BY 1` },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT x.tableoid, x.oid, x.extname, n.nspname, x.extrelocatable, x.extversion, x.extconfig, x.extcondition FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT classid, objid, refobjid FROM pg_depend WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e' ORDER BY 3`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT n.tableoid, n.oid, n.nspname, n.nspowner, n.nspacl, acldefault('n', n.nspowner) AS acldefault FROM pg_namespace n`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT c.tableoid, c.oid, c.relname, c.relnamespace, c.relkind, c.reltype, c.relowner, c.relchecks, c.relhasindex, c.relhasrules, c.relpages, c.relhastriggers, c.relpersistence, c.reloftype, c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's'::"char" ELSE 'r'::"char" END, c.relowner) AS acldefault, CASE WHEN c.relkind = 'f' THEN (SELECT ftserver FROM pg_catalog.pg_foreign_table WHERE ftrelid = c.oid) ELSE 0 END AS foreignserver, c.relfrozenxid, tc.relfrozenxid AS tfrozenxid, tc.oid AS toid, tc.relpages AS toastpages, tc.reloptions AS toast_reloptions, d.refobjid AS owning_tab, d.refobjsubid AS owning_col, tsp.spcname AS reltablespace, false AS relhasoids, c.relispopulated, c.relreplident, c.relrowsecurity, c.relforcerowsecurity, c.relminmxid, tc.relminmxid AS tminmxid, array_remove(array_remove(c.reloptions,'check_option=local'),'check_option=cascaded') AS reloptions, CASE WHEN 'check_option=local' = ANY (c.reloptions) THEN 'LOCAL'::text WHEN 'check_option=cascaded' = ANY (c.reloptions) THEN 'CASCADED'::text ELSE NULL END AS checkoption, am.amname, (d.deptype = 'i') IS TRUE AS is_identity_sequence, c.relispartition AS ispartition 
FROM pg_class c
LEFT JOIN pg_depend d ON (c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.objsubid = 0 AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
LEFT JOIN pg_tablespace tsp ON (tsp.oid = c.reltablespace)
LEFT JOIN pg_am am ON (c.relam = am.oid)
LEFT JOIN pg_class tc ON (c.reltoastrelid = tc.oid AND tc.relkind = 't' AND c.relkind <> 'p')
WHERE c.relkind IN ('r', 'S', 'v', 'c', 'm', 'f', 'p')
ORDER BY c.oid`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT p.tableoid, p.oid, p.proname, p.prolang, p.pronargs, p.proargtypes, p.prorettype, p.proacl, acldefault('f', p.proowner) AS acldefault, p.pronamespace, p.proowner FROM pg_proc p LEFT JOIN pg_init_privs pip ON (p.oid = pip.objoid AND pip.classoid = 'pg_proc'::regclass AND pip.objsubid = 0) WHERE p.prokind <> 'a'
  AND NOT EXISTS (SELECT 1 FROM pg_depend WHERE classid = 'pg_proc'::regclass AND objid = p.oid AND deptype = 'i')
  AND (
  pronamespace != (SELECT oid FROM pg_namespace WHERE nspname = 'pg_catalog')
  OR EXISTS (SELECT 1 FROM pg_cast
  WHERE pg_cast.oid > 16383 
  AND p.oid = pg_cast.castfunc)
  OR EXISTS (SELECT 1 FROM pg_transform
  WHERE pg_transform.oid > 16383 AND 
  (p.oid = pg_transform.trffromsql
  OR p.oid = pg_transform.trftosql))
  OR p.proacl IS DISTINCT FROM pip.initprivs)`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, typname, typnamespace, typacl, acldefault('T', typowner) AS acldefault, typowner, typelem, typrelid, CASE WHEN typrelid = 0 THEN ' '::"char" ELSE (SELECT relkind FROM pg_class WHERE oid = typrelid) END AS typrelkind, typtype, typisdefined, typname[0] = '_' AND typelem != 0 AND (SELECT typarray FROM pg_type te WHERE oid = pg_type.typelem) = oid AS isarray FROM pg_type`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, lanname, lanpltrusted, lanplcallfoid, laninline, lanvalidator, lanacl, acldefault('l', lanowner) AS acldefault, lanowner FROM pg_language WHERE lanispl ORDER BY oid`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT p.tableoid, p.oid, p.proname AS aggname, p.pronamespace AS aggnamespace, p.pronargs, p.proargtypes, p.proowner, p.proacl AS aggacl, acldefault('f', p.proowner) AS acldefault FROM pg_proc p LEFT JOIN pg_init_privs pip ON (p.oid = pip.objoid AND pip.classoid = 'pg_proc'::regclass AND pip.objsubid = 0) WHERE p.prokind = 'a' AND (p.pronamespace != (SELECT oid FROM pg_namespace WHERE nspname = 'pg_catalog') OR p.proacl IS DISTINCT FROM pip.initprivs)`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, oprname, oprnamespace, oprowner, oprkind, oprleft, oprright, oprcode::oid AS oprcode FROM pg_operator`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, amname, amtype, amhandler::pg_catalog.regproc AS amhandler FROM pg_am`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, opcmethod, opcname, opcnamespace, opcowner FROM pg_opclass`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, opfmethod, opfname, opfnamespace, opfowner FROM pg_opfamily`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, prsname, prsnamespace, prsstart::oid, prstoken::oid, prsend::oid, prsheadline::oid, prslextype::oid FROM pg_ts_parser`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, tmplname, tmplnamespace, tmplinit::oid, tmpllexize::oid FROM pg_ts_template`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, dictname, dictnamespace, dictowner, dicttemplate, dictinitoption FROM pg_ts_dict`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, cfgname, cfgnamespace, cfgowner, cfgparser FROM pg_ts_config`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, fdwname, fdwowner, fdwhandler::pg_catalog.regproc, fdwvalidator::pg_catalog.regproc, fdwacl, acldefault('F', fdwowner) AS acldefault, array_to_string(ARRAY(SELECT quote_ident(option_name) || ' ' || quote_literal(option_value) FROM pg_options_to_table(fdwoptions) ORDER BY option_name), E',
    ') AS fdwoptions FROM pg_foreign_data_wrapper`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, srvname, srvowner, srvfdw, srvtype, srvversion, srvacl, acldefault('S', srvowner) AS acldefault, array_to_string(ARRAY(SELECT quote_ident(option_name) || ' ' || quote_literal(option_value) FROM pg_options_to_table(srvoptions) ORDER BY option_name), E',
    ') AS srvoptions FROM pg_foreign_server`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT oid, tableoid, defaclrole, defaclnamespace, defaclobjtype, defaclacl, CASE WHEN defaclnamespace = 0 THEN acldefault(CASE WHEN defaclobjtype = 'S' THEN 's'::"char" ELSE defaclobjtype END, defaclrole) ELSE '{}' END AS acldefault FROM pg_default_acl`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, collname, collnamespace, collowner, collencoding FROM pg_collation`,
  },
  { tool: "pg_dump 15 -s", sql: `SELECT tableoid, oid, conname, connamespace, conowner FROM pg_conversion` },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, castsource, casttarget, castfunc, castcontext, castmethod FROM pg_cast c WHERE NOT EXISTS ( SELECT 1 FROM pg_range r WHERE c.castsource = r.rngtypid AND c.casttarget = r.rngmultitypid ) ORDER BY 3,4`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, trftype, trflang, trffromsql::oid, trftosql::oid FROM pg_transform ORDER BY 3,4`,
  },
  { tool: "pg_dump 15 -s", sql: `SELECT inhrelid, inhparent FROM pg_inherits` },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT e.tableoid, e.oid, evtname, evtenabled, evtevent, evtowner, array_to_string(array(select quote_literal(x)  from unnest(evttags) as t(x)), ', ') as evttags, e.evtfoid::regproc as evtfname FROM pg_event_trigger e ORDER BY e.oid`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT conrelid, confrelid FROM pg_constraint JOIN pg_depend ON (objid = confrelid) WHERE contype = 'f' AND refclassid = 'pg_extension'::regclass AND classid = 'pg_class'::regclass;`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT
a.attrelid,
a.attnum,
a.attname,
a.atttypmod,
a.attstattarget,
a.attstorage,
t.typstorage,
a.attnotnull,
a.atthasdef,
a.attisdropped,
a.attlen,
a.attalign,
a.attislocal,
pg_catalog.format_type(t.oid, a.atttypmod) AS atttypname,
array_to_string(ARRAY(
  SELECT o FROM unnest(a.attoptions) o
  WHERE substr(o, 1, 10) <> 'pg_attver='
), ', ') AS attoptions,
(
  SELECT substr(o, 10 + 1)
  FROM unnest(a.attoptions) o
  WHERE substr(o, 1, 10) = 'pg_attver='
) AS attversion,
CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation ELSE 0 END AS attcollation,
pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(option_name) || ' ' || pg_catalog.quote_literal(option_value) FROM pg_catalog.pg_options_to_table(attfdwoptions) ORDER BY option_name), E',
    ') AS attfdwoptions,
a.attcompression AS attcompression,
a.attidentity,
CASE WHEN a.atthasmissing AND NOT a.attisdropped THEN a.attmissingval ELSE null END AS attmissingval,
a.attgenerated
FROM unnest('{16438}'::pg_catalog.oid[]) AS src(tbloid)
JOIN pg_catalog.pg_attribute a ON (src.tbloid = a.attrelid) LEFT JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid)
WHERE a.attnum > 0::pg_catalog.int2
ORDER BY a.attrelid, a.attnum`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT a.tableoid, a.oid, adrelid, adnum, pg_catalog.pg_get_expr(adbin, adrelid) AS adsrc
FROM unnest('{16438}'::pg_catalog.oid[]) AS src(tbloid)
JOIN pg_catalog.pg_attrdef a ON (src.tbloid = a.adrelid)
ORDER BY a.adrelid, a.adnum`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT c.tableoid, c.oid, conrelid, conname, pg_catalog.pg_get_constraintdef(c.oid) AS consrc, conislocal, convalidated FROM unnest('{16438}'::pg_catalog.oid[]) AS src(tbloid)
JOIN pg_catalog.pg_constraint c ON (src.tbloid = c.conrelid)
WHERE contype = 'c' ORDER BY c.conrelid, c.conname`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT t.tableoid, t.oid, i.indrelid, t.relname AS indexname, pg_catalog.pg_get_indexdef(i.indexrelid) AS indexdef, i.indkey, i.indisclustered, c.contype, c.conname, c.condeferrable, c.condeferred, c.tableoid AS contableoid, c.oid AS conoid, pg_catalog.pg_get_constraintdef(c.oid, false) AS condef, (SELECT spcname FROM pg_catalog.pg_tablespace s WHERE s.oid = t.reltablespace) AS tablespace, t.reloptions AS indreloptions, i.indisreplident, inh.inhparent AS parentidx, i.indnkeyatts AS indnkeyatts, i.indnatts AS indnatts, (SELECT pg_catalog.array_agg(attnum ORDER BY attnum)   FROM pg_catalog.pg_attribute   WHERE attrelid = i.indexrelid AND     attstattarget >= 0) AS indstatcols, (SELECT pg_catalog.array_agg(attstattarget ORDER BY attnum)   FROM pg_catalog.pg_attribute   WHERE attrelid = i.indexrelid AND     attstattarget >= 0) AS indstatvals, i.indnullsnotdistinct FROM unnest('{16438}'::pg_catalog.oid[]) AS src(tbloid)
JOIN pg_catalog.pg_index i ON (src.tbloid = i.indrelid) JOIN pg_catalog.pg_class t ON (t.oid = i.indexrelid) JOIN pg_catalog.pg_class t2 ON (t2.oid = i.indrelid) LEFT JOIN pg_catalog.pg_constraint c ON (i.indrelid = c.conrelid AND i.indexrelid = c.conindid AND c.contype IN ('p','u','x')) LEFT JOIN pg_catalog.pg_inherits inh ON (inh.inhrelid = indexrelid) WHERE (i.indisvalid OR t2.relkind = 'p') AND i.indisready ORDER BY i.indrelid, indexname`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, stxname, stxnamespace, stxowner, stxrelid, stxstattarget FROM pg_catalog.pg_statistic_ext`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT c.tableoid, c.oid, conrelid, conname, confrelid, conindid, pg_catalog.pg_get_constraintdef(c.oid) AS condef
FROM unnest('{}'::pg_catalog.oid[]) AS src(tbloid)
JOIN pg_catalog.pg_constraint c ON (src.tbloid = c.conrelid)
WHERE contype = 'f' AND conparentid = 0 ORDER BY conrelid, conname`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT t.tgrelid, t.tgname, t.tgfoid::pg_catalog.regproc AS tgfname, pg_catalog.pg_get_triggerdef(t.oid, false) AS tgdef, t.tgenabled, t.tableoid, t.oid, t.tgparentid <> 0 AS tgispartition
FROM unnest('{}'::pg_catalog.oid[]) AS src(tbloid)
JOIN pg_catalog.pg_trigger t ON (src.tbloid = t.tgrelid) LEFT JOIN pg_catalog.pg_trigger u ON (u.oid = t.tgparentid) WHERE ((NOT t.tgisinternal AND t.tgparentid = 0) OR t.tgenabled != u.tgenabled) ORDER BY t.tgrelid, t.tgname`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, rulename, ev_class AS ruletable, ev_type, is_instead, ev_enabled FROM pg_rewrite ORDER BY oid`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT pol.oid, pol.tableoid, pol.polrelid, pol.polname, pol.polcmd, pol.polpermissive, CASE WHEN pol.polroles = '{0}' THEN NULL ELSE    pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(rolname) from pg_catalog.pg_roles WHERE oid = ANY(pol.polroles)), ', ') END AS polroles, pg_catalog.pg_get_expr(pol.polqual, pol.polrelid) AS polqual, pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid) AS polwithcheck FROM unnest('{16438}'::pg_catalog.oid[]) AS src(tbloid)
JOIN pg_catalog.pg_policy pol ON (src.tbloid = pol.polrelid)`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT p.tableoid, p.oid, p.pubname, p.pubowner, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot FROM pg_publication p`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, prpubid, prrelid, pg_catalog.pg_get_expr(prqual, prrelid) AS prrelqual, (CASE
  WHEN pr.prattrs IS NOT NULL THEN
    (SELECT array_agg(attname)
       FROM
         pg_catalog.generate_series(0, pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,
         pg_catalog.pg_attribute
      WHERE attrelid = pr.prrelid AND attnum = prattrs[s])
  ELSE NULL END) prattrs FROM pg_catalog.pg_publication_rel pr`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT tableoid, oid, pnpubid, pnnspid FROM pg_catalog.pg_publication_namespace`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT s.tableoid, s.oid, s.subname,
 s.subowner,
 s.subconninfo, s.subslotname, s.subsynccommit,
 s.subpublications,
 s.subbinary,
 s.substream,
 s.subtwophasestate,
 s.subdisableonerr
FROM pg_subscription s
WHERE s.subdbid = (SELECT oid FROM pg_database
                   WHERE datname = current_database())`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT classid, objid, refclassid, refobjid, deptype FROM pg_depend WHERE deptype != 'p' AND deptype != 'e'
UNION ALL
SELECT 'pg_opfamily'::regclass AS classid, amopfamily AS objid, refclassid, refobjid, deptype FROM pg_depend d, pg_amop o WHERE deptype NOT IN ('p', 'e', 'i') AND classid = 'pg_amop'::regclass AND objid = o.oid AND NOT (refclassid = 'pg_opfamily'::regclass AND amopfamily = refobjid)
UNION ALL
SELECT 'pg_opfamily'::regclass AS classid, amprocfamily AS objid, refclassid, refobjid, deptype FROM pg_depend d, pg_amproc p WHERE deptype NOT IN ('p', 'e', 'i') AND classid = 'pg_amproc'::regclass AND objid = p.oid AND NOT (refclassid = 'pg_opfamily'::regclass AND amprocfamily = refobjid)
ORDER BY 1,2`,
  },
  { tool: "pg_dump 15 -s", sql: `SELECT DISTINCT attrelid FROM pg_attribute WHERE attacl IS NOT NULL` },
  { tool: "pg_dump 15 -s", sql: `SELECT objoid, classoid, objsubid, privtype, initprivs FROM pg_init_privs` },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT description, classoid, objoid, objsubid FROM pg_catalog.pg_description ORDER BY classoid, objoid, objsubid`,
  },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT label, provider, classoid, objoid, objsubid FROM pg_catalog.pg_seclabels ORDER BY classoid, objoid, objsubid`,
  },
  { tool: "pg_dump 15 -s", sql: `SELECT pg_catalog.current_schemas(false)` },
  { tool: "pg_dump 15 -s", sql: `SELECT pg_catalog.format_type('23'::pg_catalog.oid, NULL)` },
  {
    tool: "pg_dump 15 -s",
    sql: `SELECT format_type(seqtypid, NULL), seqstart, seqincrement, seqmax, seqmin, seqcache, seqcycle FROM pg_catalog.pg_sequence WHERE seqrelid = '16437'::oid`,
  },
];

const FROM_SOURCES: readonly CorpusQuery[] = [
  // Prisma schema engine (sql-schema-describer, postgres.rs): tables, columns, constraints.
  {
    tool: "Prisma tables",
    sql: `SELECT tbl.relname AS table_name, namespace.nspname as namespace, tbl.relispartition as is_partition,
  (tbl.relhassubclass and tbl.relkind = 'p') as has_subclass, tbl.relrowsecurity as has_row_level_security,
  reloptions, obj_description(tbl.oid, 'pg_class') as description
FROM pg_class AS tbl
INNER JOIN pg_namespace AS namespace ON namespace.oid = tbl.relnamespace
WHERE ((tbl.relkind = 'r' AND tbl.relispartition = 'f') OR tbl.relkind = 'p')
  AND namespace.nspname = ANY ( $1 )
ORDER BY namespace, table_name`,
  },
  {
    tool: "Prisma columns",
    sql: `SELECT oid.namespace, info.table_name, info.column_name, format_type(att.atttypid, att.atttypmod) as formatted_type,
  info.numeric_precision, info.numeric_scale, info.numeric_precision_radix, info.datetime_precision, info.data_type,
  info.udt_schema as type_schema_name, info.udt_name as full_data_type,
  pg_get_expr(attdef.adbin, attdef.adrelid) AS column_default, info.is_nullable, info.is_identity,
  info.character_maximum_length, col_description(att.attrelid, ordinal_position) AS description
FROM information_schema.columns info
JOIN pg_attribute att ON att.attname = info.column_name
JOIN (SELECT pg_class.oid, relname, pg_namespace.nspname as namespace FROM pg_class
      JOIN pg_namespace on pg_namespace.oid = pg_class.relnamespace
      AND pg_namespace.nspname = ANY ( $1 )) as oid on oid.oid = att.attrelid AND relname = info.table_name AND namespace = info.table_schema
LEFT OUTER JOIN pg_attrdef attdef ON attdef.adrelid = att.attrelid AND attdef.adnum = att.attnum AND table_schema = namespace
WHERE table_schema = ANY ( $1 )
ORDER BY namespace, table_name, ordinal_position`,
  },
  {
    tool: "Prisma check constraints",
    sql: `SELECT schemainfo.nspname AS namespace, tableinfo.relname AS table_name, constr.conname AS constraint_name,
  constr.contype AS constraint_type, pg_get_constraintdef(constr.oid) AS constraint_definition,
  constr.condeferrable AS is_deferrable, constr.condeferred AS is_deferred
FROM pg_constraint constr
JOIN pg_class AS tableinfo ON tableinfo.oid = constr.conrelid
JOIN pg_namespace AS schemainfo ON schemainfo.oid = tableinfo.relnamespace
WHERE schemainfo.nspname = ANY ( $1 ) AND contype NOT IN ('p', 'u', 'f')
ORDER BY namespace, table_name, constr.contype, constraint_name`,
  },
  // pgAdmin 4 (web/pgadmin/browser/server_groups/servers/databases/.../templates/*/sql/*/nodes.sql, properties.sql).
  {
    tool: "pgAdmin databases node",
    sql: `SELECT db.oid as did, db.datname as name, ta.spcname as spcname, db.datallowconn,
  has_database_privilege(db.oid, 'CREATE') as cancreate, datdba as owner, datistemplate,
  pg_catalog.pg_get_userbyid(db.datdba) AS datowner, pg_catalog.shobj_description(db.oid, 'pg_database') AS comments
FROM pg_catalog.pg_database db
LEFT OUTER JOIN pg_catalog.pg_tablespace ta ON db.dattablespace = ta.oid
WHERE db.oid > 16383::OID OR db.datname IN ('postgres', 'edb')
ORDER BY datname`,
  },
  {
    tool: "pgAdmin tables properties",
    sql: `SELECT rel.oid, rel.relname AS name,
  (SELECT count(*) FROM pg_catalog.pg_trigger WHERE tgrelid=rel.oid AND tgisinternal = FALSE) AS triggercount,
  pg_catalog.pg_get_userbyid(rel.relowner) AS relowner, rel.relacl, des.description,
  pg_catalog.array_to_string(rel.reloptions, ',') AS reloptions,
  (CASE WHEN rel.relkind = 'p' THEN true ELSE false END) AS is_partitioned,
  pg_catalog.pg_get_partkeydef(rel.oid::oid) AS partition_scheme,
  pg_catalog.has_table_privilege(rel.oid, 'SELECT') AS can_select
FROM pg_catalog.pg_class rel
LEFT OUTER JOIN pg_catalog.pg_description des ON (des.objoid=rel.oid AND des.objsubid=0 AND des.classoid='pg_class'::regclass)
WHERE rel.relkind IN ('r','s','t','p') AND rel.relnamespace = 2200::oid
ORDER BY rel.relname`,
  },
  {
    tool: "pgAdmin connection check",
    sql: `SELECT CASE WHEN usesuper THEN pg_catalog.pg_is_in_recovery() ELSE NULL END as inrecovery,
  CASE WHEN usesuper AND pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_receive_lsn() IS NULL ELSE NULL END as isreplaypaused
FROM pg_catalog.pg_user WHERE usename=current_user`,
  },
  // DBeaver (plugins/org.jkiss.dbeaver.ext.postgresql, PostgreDatabase / PostgreSchema / PostgreTableBase loaders).
  {
    tool: "DBeaver databases",
    sql: `SELECT db.oid,db.*,pg_catalog.pg_get_userbyid(db.datdba) as db_owner,
  pg_catalog.pg_encoding_to_char(db.encoding) as encoding_name
FROM pg_catalog.pg_database db WHERE NOT datistemplate AND datallowconn ORDER BY db.datname`,
  },
  {
    tool: "DBeaver schemas",
    sql: `SELECT n.oid,n.*,d.description FROM pg_catalog.pg_namespace n
left outer join pg_catalog.pg_description d ON d.objoid=n.oid AND d.objsubid=0 AND d.classoid='pg_namespace'::regclass
ORDER BY nspname`,
  },
  {
    tool: "DBeaver table sizes",
    sql: `select c.oid,pg_catalog.pg_total_relation_size(c.oid) as total_rel_size,pg_catalog.pg_relation_size(c.oid) as rel_size
FROM pg_class c
WHERE c.relnamespace=2200`,
  },
  {
    tool: "DBeaver keywords",
    sql: `select string_agg(word, ',') from pg_catalog.pg_get_keywords() where word <> ALL ('{a,abs,absolute,action,ada,add,admin,after,all}'::text[])`,
  },
  // DataGrip (PostgreSQL introspector, databases list).
  {
    tool: "DataGrip databases",
    sql: `select N.oid::bigint as id, datname as name, D.description, datistemplate as is_template,
  datallowconn as allow_connections, pg_catalog.pg_get_userbyid(N.datdba) as "owner"
from pg_catalog.pg_database N
  left join pg_catalog.pg_shdescription D on N.oid = D.objoid
order by case when datname = pg_catalog.current_database() then -1::bigint else N.oid::bigint end`,
  },
  // Metabase (src/metabase/driver/postgres.clj, describe-database / describe-syncable-tables).
  {
    tool: "Metabase describe-database",
    sql: `SELECT n.nspname AS schema, c.relname AS name,
  CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END AS type,
  d.description AS description, stat.n_live_tup AS estimated_row_count
FROM pg_catalog.pg_class c
INNER JOIN pg_catalog.pg_namespace n ON c.relnamespace = n.oid
LEFT JOIN pg_catalog.pg_description d ON c.oid = d.objoid AND d.objsubid = 0 AND d.classoid = 'pg_class'::regclass
LEFT OUTER JOIN pg_stat_user_tables stat ON c.oid = stat.relid
WHERE c.relnamespace = n.oid
  AND n.nspname !~ '^information_schema|catalog_history|pg_'
  AND c.relkind IN ('r', 'p', 'v', 'f', 'm')
  AND (pg_has_role(c.relowner, 'USAGE')
    OR has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
    OR has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))
ORDER BY type, schema, name`,
  },
  // Grafana PostgreSQL data source (public/app/plugins/datasource/grafana-postgresql-datasource): table and
  // column pickers, and the query of the PostgreSQL dashboards that ship with it.
  {
    tool: "Grafana columns",
    sql: `SELECT quote_ident(column_name) AS "column", data_type AS "type"
FROM information_schema.columns
WHERE quote_ident(table_name) = 'customers'`,
  },
  {
    tool: "Grafana database sizes",
    sql: `SELECT datname, pg_database_size(datname) AS size, pg_size_pretty(pg_database_size(datname)) AS pretty
FROM pg_catalog.pg_database WHERE datallowconn`,
  },
];

describe("introspection corpus (issue 18)", () => {
  it.each(CAPTURED.map((query, index) => ({ ...query, index })))(
    "$tool #$index needs only sql:read",
    ({ sql }) => {
      expect(nonReads(sql)).toEqual([]);
      expect(statements(sql).every((statement) => statement.readOnly)).toBe(true);
    },
  );

  it.each(FROM_SOURCES)("$tool needs only sql:read", ({ sql }) => {
    expect(nonReads(sql)).toEqual([]);
  });

  // drizzle-kit's view query reads pg_tablespace_location(), which reveals a server directory and stays
  // sql:function (docs/policy.md shows the one-line permit); every other captured query is a pure read.
  const TABLESPACE_PATH = "sql:function pg_catalog.pg_tablespace_location";
  it.each(CAPTURED_TOOL_QUERIES.map((query, index) => ({ ...query, index })))(
    "$tool query $index needs only sql:read",
    ({ tool, sql }) => {
      const expected =
        tool.startsWith("drizzle-kit") && sql.includes("pg_tablespace_location") ? [TABLESPACE_PATH] : [];
      expect(nonReads(sql)).toEqual(expected);
    },
  );

  it("holds every tool's capture", () => {
    const tools = new Set(CAPTURED_TOOL_QUERIES.map((query) => query.tool.split(" ")[0]));
    expect([...tools].sort()).toEqual([
      "Kysely",
      "SQLAlchemy",
      "Sequelize",
      "TypeORM",
      "drizzle-kit",
      "pgcli",
    ]);
    expect(CAPTURED_TOOL_QUERIES.length).toBeGreaterThanOrEqual(60);
  });

  it("covers every psql command the issue names", () => {
    const tools = new Set(CAPTURED.map((query) => query.tool));
    for (const command of ["\\dt", "\\d customers", "\\l", "\\dn", "\\df", "\\du"]) {
      expect(tools).toContain(`psql 15 ${command}`);
    }
  });

  it("reports the catalog functions under their pg_catalog name however they are written", () => {
    expect(accesses("SELECT pg_get_userbyid(10), pg_catalog.pg_table_is_visible(1259)")).toEqual([
      "sql:select Connection",
    ]);
  });

  it("takes pg_dump's set_config('search_path', '') and ACCESS SHARE locks for what they are: a setting and reads", () => {
    // pg_dump -s needs sql:read plus sql:set (and sql:session for BEGIN/SET TRANSACTION); nothing administrative.
    expect(accesses("SELECT pg_catalog.set_config('search_path', '', false);")).toEqual([
      "sql:select Connection",
      "sql:set Connection",
    ]);
    expect(accesses("SELECT set_config('search_path', 'pg_catalog', true)")).toEqual([
      "sql:select Connection",
      "sql:set Connection",
    ]);
    expect(accesses("LOCK TABLE public.customers, orders IN ACCESS SHARE MODE")).toEqual([
      "sql:select public.customers",
      "sql:select public.orders",
    ]);
  });

  it("keeps every other set_config and lock mode outside the reads", () => {
    expect(nonReads("SELECT set_config('search_path', 'evil, pg_catalog', false)")).toEqual([
      "sql:set_protected Connection",
    ]);
    expect(nonReads("SELECT pg_catalog.set_config('role', 'postgres', false)")).toEqual([
      "sql:set_role Connection",
    ]);
    expect(nonReads("SELECT set_config('SESSION_AUTHORIZATION', 'postgres', false)")).toEqual([
      "sql:set_role Connection",
    ]);
    expect(nonReads("SELECT set_config(c.relname, 'x', false) FROM pg_catalog.pg_class c")).toEqual([
      "sql:admin_function pg_catalog.set_config",
    ]);
    expect(nonReads("SELECT set_config('search_path', current_user, false)")).toEqual([
      "sql:admin_function pg_catalog.set_config",
    ]);
    expect(nonReads("SELECT evil.set_config('search_path', '', false)")).toEqual([
      "sql:admin_function evil.set_config",
    ]);
    for (const mode of ["ROW SHARE", "ROW EXCLUSIVE", "SHARE", "EXCLUSIVE", "ACCESS EXCLUSIVE"]) {
      expect(nonReads(`LOCK TABLE public.customers IN ${mode} MODE`), mode).toEqual([
        "sql:lock public.customers",
      ]);
    }
    expect(nonReads("LOCK TABLE public.customers")).toEqual(["sql:lock public.customers"]);
  });

  it("reads settings with current_setting as SHOW and pg_settings already allow", () => {
    expect(nonReads("SELECT string_to_array(current_setting('search_path'), ',')")).toEqual([]);
    expect(nonReads("SELECT public.current_setting('x')")).toEqual(["sql:function public.current_setting"]);
  });
});

describe("the corpus against a real PostgreSQL 15", () => {
  let client: pg.Client | undefined;
  let unreachable: string | undefined;

  beforeAll(async () => {
    const candidate = new pg.Client({
      host: "127.0.0.1",
      port: 5432,
      user: "postgres",
      database: "postgres",
    });
    try {
      await candidate.connect();
      client = candidate;
    } catch (error) {
      unreachable = `PostgreSQL on 127.0.0.1:5432 is unreachable: ${(error as Error).message}`;
    }
  });
  afterAll(async () => client?.end());

  it("runs every query without the server assigning a transaction id (nothing is written)", async (context) => {
    if (client === undefined) return context.skip(unreachable ?? "no client");
    for (const { tool, sql, params } of [...CAPTURED, ...CAPTURED_TOOL_QUERIES, ...FROM_SOURCES]) {
      await client.query("BEGIN READ ONLY");
      try {
        await client.query(sql, params !== undefined ? [...params] : sql.includes("$1") ? [["public"]] : []);
        const result = await client.query<{ xid: string | null }>(
          "SELECT txid_current_if_assigned()::text AS xid",
        );
        expect(result.rows[0]!.xid, tool).toBeNull();
      } finally {
        await client.query("ROLLBACK");
      }
    }
  });
});

describe("dangerous functions in the shape of a catalog query stay denied", () => {
  const shapes = [
    (call: string) =>
      `SELECT n.nspname, c.relname, ${call} FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE pg_catalog.pg_table_is_visible(c.oid)`,
    (call: string) =>
      `SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), (SELECT ${call} FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid) FROM pg_catalog.pg_attribute a WHERE a.attrelid = '16438'`,
    (call: string) =>
      `SELECT pg_catalog.array_to_string(ARRAY(SELECT ${call} FROM pg_catalog.pg_roles), ',') AS x, pg_catalog.pg_get_userbyid(10)`,
  ];
  const calls: ReadonlyArray<readonly [string, string]> = [
    ["pg_catalog.pg_read_file('/etc/passwd')", "pg_catalog.pg_read_file"],
    ["pg_ls_dir('.')", "pg_catalog.pg_ls_dir"],
    ["set_config(c.relname, 'evil', false)", "pg_catalog.set_config"],
    ["pg_catalog.pg_terminate_backend(c.oid::int)", "pg_catalog.pg_terminate_backend"],
    ["lo_import('/etc/passwd')", "pg_catalog.lo_import"],
    ["dblink_connect('host=evil')", "pg_catalog.dblink_connect"],
    ["public.dblink_connect('host=evil')", "public.dblink_connect"],
  ];

  for (const shape of shapes) {
    for (const [call, resource] of calls) {
      it(`${call} in ${shape("…").slice(0, 40)}…`, () => {
        expect(nonReads(shape(call))).toContain(`sql:admin_function ${resource}`);
      });
    }
  }

  it("does not let a user function with a catalog function's name pass as a read", () => {
    expect(nonReads("SELECT public.pg_get_userbyid(10), evil.pg_table_is_visible(1)")).toEqual([
      "sql:function public.pg_get_userbyid",
      "sql:function evil.pg_table_is_visible",
    ]);
  });
});
