/**
 * Catalog queries captured from the real tools (issue 18), not written by hand: each tool ran against a throwaway
 * PostgreSQL 15 with `log_statement=all`, and every SELECT it sent is here as the server logged it (parameters
 * from the log's DETAIL line). Captured 2026-12-01 with:
 * - SQLAlchemy 1.4.46 + psycopg2 2.9.5 (Debian python3-sqlalchemy): Inspector get_schema_names, get_table_names,
 *   get_view_names, get_columns, get_pk_constraint, get_foreign_keys, get_indexes, get_unique_constraints,
 *   get_check_constraints, get_table_comment, has_table, get_enums, get_view_definition, get_sequence_names.
 * - pgcli 3.5.0 (Debian): PGExecute schemata, tables, views, table_columns, view_columns, functions, datatypes,
 *   databases, foreignkeys, casing (what its completion refresh runs).
 * - Kysely 0.28.19: db.introspection.getTables / getSchemas.  TypeORM 1.1.1: createSchemaBuilder().log().
 * - Sequelize 6.37.8: showAllTables, describeTable, showIndex, getForeignKeyReferencesForTable.
 * - drizzle-kit 0.31.11: `drizzle-kit pull --dialect postgresql`.
 * The schema they introspected: an enum, two tables with serial/bigserial keys, a foreign key, a CHECK, a
 * UNIQUE, an index, a comment and a view. GUI tools that cannot run here (pgAdmin, DBeaver, DataGrip,
 * Metabase, Grafana) and Prisma (its engines download from outside the npm registry) are FROM_SOURCES in
 * introspection-corpus.test.ts.
 */
export interface CapturedQuery {
  readonly tool: string;
  readonly sql: string;
  /** Bind parameters as the server logged them (text). */
  readonly params?: readonly (string | null)[];
}

export const CAPTURED_TOOL_QUERIES: readonly CapturedQuery[] = [
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT t.oid, typarray\n\tFROM pg_type t JOIN pg_namespace ns\n\t    ON typnamespace = ns.oid\n\tWHERE typname = 'hstore';",
  },
  { tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector", sql: "select pg_catalog.version()" },
  { tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector", sql: "select current_schema()" },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' ORDER BY nspname",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind in ('r', 'p')",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT c.oid\n\t            FROM pg_catalog.pg_class c\n\t            LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n\t            WHERE (pg_catalog.pg_table_is_visible(c.oid))\n\t            AND c.relname = 'customers' AND c.relkind in\n\t            ('r', 'v', 'm', 'f', 'p')",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT a.attname,\n\t              pg_catalog.format_type(a.atttypid, a.atttypmod),\n\t              (\n\t                SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid)\n\t                FROM pg_catalog.pg_attrdef d\n\t                WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum\n\t                AND a.atthasdef\n\t              ) AS DEFAULT,\n\t              a.attnotnull,\n\t              a.attrelid as table_oid,\n\t              pgd.description as comment,\n\t              a.attgenerated as generated,\n\t                              (SELECT json_build_object(\n\t                    'always', a.attidentity = 'a',\n\t                    'start', s.seqstart,\n\t                    'increment', s.seqincrement,\n\t                    'minvalue', s.seqmin,\n\t                    'maxvalue', s.seqmax,\n\t                    'cache', s.seqcache,\n\t                    'cycle', s.seqcycle)\n\t                FROM pg_catalog.pg_sequence s\n\t                JOIN pg_catalog.pg_class c on s.seqrelid = c.\"oid\"\n\t                WHERE c.relkind = 'S'\n\t                AND a.attidentity != ''\n\t                AND s.seqrelid = pg_catalog.pg_get_serial_sequence(\n\t                    a.attrelid::regclass::text, a.attname\n\t                )::regclass::oid\n\t                ) as identity_options                \n\t            FROM pg_catalog.pg_attribute a\n\t            LEFT JOIN pg_catalog.pg_description pgd ON (\n\t                pgd.objoid = a.attrelid AND pgd.objsubid = a.attnum)\n\t            WHERE a.attrelid = 16394\n\t            AND a.attnum > 0 AND NOT a.attisdropped\n\t            ORDER BY a.attnum",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: 'SELECT t.typname as "name",\n\t               pg_catalog.format_type(t.typbasetype, t.typtypmod) as "attype",\n\t               not t.typnotnull as "nullable",\n\t               t.typdefault as "default",\n\t               pg_catalog.pg_type_is_visible(t.oid) as "visible",\n\t               n.nspname as "schema"\n\t            FROM pg_catalog.pg_type t\n\t               LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace\n\t            WHERE t.typtype = \'d\'',
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: 'SELECT t.typname as "name",\n\t               -- no enum defaults in 8.4 at least\n\t               -- t.typdefault as "default",\n\t               pg_catalog.pg_type_is_visible(t.oid) as "visible",\n\t               n.nspname as "schema",\n\t               e.enumlabel as "label"\n\t            FROM pg_catalog.pg_type t\n\t                 LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace\n\t                 LEFT JOIN pg_catalog.pg_enum e ON t.oid = e.enumtypid\n\t            WHERE t.typtype = \'e\'\n\t        ORDER BY "schema", "name", e.oid',
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT a.attname\n\t                FROM pg_attribute a JOIN (\n\t                    SELECT unnest(ix.indkey) attnum,\n\t                           generate_subscripts(ix.indkey, 1) ord\n\t                    FROM pg_index ix\n\t                    WHERE ix.indrelid = 16394 AND ix.indisprimary\n\t                    ) k ON a.attnum=k.attnum\n\t                WHERE a.attrelid = 16394\n\t                ORDER BY k.ord",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT conname\n\t           FROM  pg_catalog.pg_constraint r\n\t           WHERE r.conrelid = 16394 AND r.contype = 'p'\n\t           ORDER BY 1",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT r.conname,\n\t                pg_catalog.pg_get_constraintdef(r.oid, true) as condef,\n\t                n.nspname as conschema\n\t          FROM  pg_catalog.pg_constraint r,\n\t                pg_namespace n,\n\t                pg_class c\n\t\n\t          WHERE r.conrelid = 16394 AND\n\t                r.contype = 'f' AND\n\t                c.oid = confrelid AND\n\t                n.oid = c.relnamespace\n\t          ORDER BY 1",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT\n\t                  i.relname as relname,\n\t                  ix.indisunique, ix.indexprs,\n\t                  a.attname, a.attnum, c.conrelid, ix.indkey::varchar,\n\t                  ix.indoption::varchar, i.reloptions, am.amname,\n\t                  pg_get_expr(ix.indpred, ix.indrelid),\n\t                  ix.indnkeyatts as indnkeyatts\n\t              FROM\n\t                  pg_class t\n\t                        join pg_index ix on t.oid = ix.indrelid\n\t                        join pg_class i on i.oid = ix.indexrelid\n\t                        left outer join\n\t                            pg_attribute a\n\t                            on t.oid = a.attrelid and a.attnum = ANY(ix.indkey)\n\t                        left outer join\n\t                            pg_constraint c\n\t                            on (ix.indrelid = c.conrelid and\n\t                                ix.indexrelid = c.conindid and\n\t                                c.contype in ('p', 'u', 'x'))\n\t                        left outer join\n\t                            pg_am am\n\t                            on i.relam = am.oid\n\t              WHERE\n\t                  t.relkind IN ('r', 'v', 'f', 'm', 'p')\n\t                  and t.oid = 16394\n\t                  and ix.indisprimary = 'f'\n\t              ORDER BY\n\t                  t.relname,\n\t                  i.relname",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT\n\t                cons.conname as name,\n\t                cons.conkey as key,\n\t                a.attnum as col_num,\n\t                a.attname as col_name\n\t            FROM\n\t                pg_catalog.pg_constraint cons\n\t                join pg_attribute a\n\t                  on cons.conrelid = a.attrelid AND\n\t                    a.attnum = ANY(cons.conkey)\n\t            WHERE\n\t                cons.conrelid = 16394 AND\n\t                cons.contype = 'u'",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT\n\t                cons.conname as name,\n\t                pg_get_constraintdef(cons.oid) as src\n\t            FROM\n\t                pg_catalog.pg_constraint cons\n\t            WHERE\n\t                cons.conrelid = 16394 AND\n\t                cons.contype = 'c'",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT\n\t                pgd.description as table_comment\n\t            FROM\n\t                pg_catalog.pg_description pgd\n\t            WHERE\n\t                pgd.objsubid = 0 AND\n\t                pgd.objoid = 16394",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT c.oid\n\t            FROM pg_catalog.pg_class c\n\t            LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n\t            WHERE (pg_catalog.pg_table_is_visible(c.oid))\n\t            AND c.relname = 'orders' AND c.relkind in\n\t            ('r', 'v', 'm', 'f', 'p')",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT a.attname,\n\t              pg_catalog.format_type(a.atttypid, a.atttypmod),\n\t              (\n\t                SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid)\n\t                FROM pg_catalog.pg_attrdef d\n\t                WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum\n\t                AND a.atthasdef\n\t              ) AS DEFAULT,\n\t              a.attnotnull,\n\t              a.attrelid as table_oid,\n\t              pgd.description as comment,\n\t              a.attgenerated as generated,\n\t                              (SELECT json_build_object(\n\t                    'always', a.attidentity = 'a',\n\t                    'start', s.seqstart,\n\t                    'increment', s.seqincrement,\n\t                    'minvalue', s.seqmin,\n\t                    'maxvalue', s.seqmax,\n\t                    'cache', s.seqcache,\n\t                    'cycle', s.seqcycle)\n\t                FROM pg_catalog.pg_sequence s\n\t                JOIN pg_catalog.pg_class c on s.seqrelid = c.\"oid\"\n\t                WHERE c.relkind = 'S'\n\t                AND a.attidentity != ''\n\t                AND s.seqrelid = pg_catalog.pg_get_serial_sequence(\n\t                    a.attrelid::regclass::text, a.attname\n\t                )::regclass::oid\n\t                ) as identity_options                \n\t            FROM pg_catalog.pg_attribute a\n\t            LEFT JOIN pg_catalog.pg_description pgd ON (\n\t                pgd.objoid = a.attrelid AND pgd.objsubid = a.attnum)\n\t            WHERE a.attrelid = 16406\n\t            AND a.attnum > 0 AND NOT a.attisdropped\n\t            ORDER BY a.attnum",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT a.attname\n\t                FROM pg_attribute a JOIN (\n\t                    SELECT unnest(ix.indkey) attnum,\n\t                           generate_subscripts(ix.indkey, 1) ord\n\t                    FROM pg_index ix\n\t                    WHERE ix.indrelid = 16406 AND ix.indisprimary\n\t                    ) k ON a.attnum=k.attnum\n\t                WHERE a.attrelid = 16406\n\t                ORDER BY k.ord",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT conname\n\t           FROM  pg_catalog.pg_constraint r\n\t           WHERE r.conrelid = 16406 AND r.contype = 'p'\n\t           ORDER BY 1",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT r.conname,\n\t                pg_catalog.pg_get_constraintdef(r.oid, true) as condef,\n\t                n.nspname as conschema\n\t          FROM  pg_catalog.pg_constraint r,\n\t                pg_namespace n,\n\t                pg_class c\n\t\n\t          WHERE r.conrelid = 16406 AND\n\t                r.contype = 'f' AND\n\t                c.oid = confrelid AND\n\t                n.oid = c.relnamespace\n\t          ORDER BY 1",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT\n\t                  i.relname as relname,\n\t                  ix.indisunique, ix.indexprs,\n\t                  a.attname, a.attnum, c.conrelid, ix.indkey::varchar,\n\t                  ix.indoption::varchar, i.reloptions, am.amname,\n\t                  pg_get_expr(ix.indpred, ix.indrelid),\n\t                  ix.indnkeyatts as indnkeyatts\n\t              FROM\n\t                  pg_class t\n\t                        join pg_index ix on t.oid = ix.indrelid\n\t                        join pg_class i on i.oid = ix.indexrelid\n\t                        left outer join\n\t                            pg_attribute a\n\t                            on t.oid = a.attrelid and a.attnum = ANY(ix.indkey)\n\t                        left outer join\n\t                            pg_constraint c\n\t                            on (ix.indrelid = c.conrelid and\n\t                                ix.indexrelid = c.conindid and\n\t                                c.contype in ('p', 'u', 'x'))\n\t                        left outer join\n\t                            pg_am am\n\t                            on i.relam = am.oid\n\t              WHERE\n\t                  t.relkind IN ('r', 'v', 'f', 'm', 'p')\n\t                  and t.oid = 16406\n\t                  and ix.indisprimary = 'f'\n\t              ORDER BY\n\t                  t.relname,\n\t                  i.relname",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT\n\t                cons.conname as name,\n\t                cons.conkey as key,\n\t                a.attnum as col_num,\n\t                a.attname as col_name\n\t            FROM\n\t                pg_catalog.pg_constraint cons\n\t                join pg_attribute a\n\t                  on cons.conrelid = a.attrelid AND\n\t                    a.attnum = ANY(cons.conkey)\n\t            WHERE\n\t                cons.conrelid = 16406 AND\n\t                cons.contype = 'u'",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT\n\t                cons.conname as name,\n\t                pg_get_constraintdef(cons.oid) as src\n\t            FROM\n\t                pg_catalog.pg_constraint cons\n\t            WHERE\n\t                cons.conrelid = 16406 AND\n\t                cons.contype = 'c'",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT\n\t                pgd.description as table_comment\n\t            FROM\n\t                pg_catalog.pg_description pgd\n\t            WHERE\n\t                pgd.objsubid = 0 AND\n\t                pgd.objoid = 16406",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "select relname from pg_class c join pg_namespace n on n.oid=c.relnamespace where pg_catalog.pg_table_is_visible(c.oid) and relname='customers'",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: 'SELECT t.typname as "name",\n\t               -- no enum defaults in 8.4 at least\n\t               -- t.typdefault as "default",\n\t               pg_catalog.pg_type_is_visible(t.oid) as "visible",\n\t               n.nspname as "schema",\n\t               e.enumlabel as "label"\n\t            FROM pg_catalog.pg_type t\n\t                 LEFT JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace\n\t                 LEFT JOIN pg_catalog.pg_enum e ON t.oid = e.enumtypid\n\t            WHERE t.typtype = \'e\'\n\t        AND n.nspname = \'public\' ORDER BY "schema", "name", e.oid',
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT pg_get_viewdef(c.oid) view_def FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = 'big_orders' AND c.relkind IN ('v', 'm')",
  },
  {
    tool: "SQLAlchemy 1.4.46 (psycopg2 2.9.5) Inspector",
    sql: "SELECT relname FROM pg_class c join pg_namespace n on n.oid=c.relnamespace where relkind='S' and n.nspname='public'",
  },
  { tool: "pgcli 3.5.0 completion refresh", sql: "SELECT 1" },
  {
    tool: "pgcli 3.5.0 completion refresh",
    sql: "SELECT  nspname\n\t        FROM    pg_catalog.pg_namespace\n\t        ORDER BY 1",
  },
  {
    tool: "pgcli 3.5.0 completion refresh",
    sql: "SELECT  n.nspname schema_name,\n\t                c.relname table_name\n\t        FROM    pg_catalog.pg_class c\n\t                LEFT JOIN pg_catalog.pg_namespace n\n\t                    ON n.oid = c.relnamespace\n\t        WHERE   c.relkind = ANY($1)\n\t        ORDER BY 1,2;",
    params: ["{r,p,f}"],
  },
  {
    tool: "pgcli 3.5.0 completion refresh",
    sql: "SELECT  n.nspname schema_name,\n\t                c.relname table_name\n\t        FROM    pg_catalog.pg_class c\n\t                LEFT JOIN pg_catalog.pg_namespace n\n\t                    ON n.oid = c.relnamespace\n\t        WHERE   c.relkind = ANY($1)\n\t        ORDER BY 1,2;",
    params: ["{v,m}"],
  },
  {
    tool: "pgcli 3.5.0 completion refresh",
    sql: "SELECT  nsp.nspname schema_name,\n\t                        cls.relname table_name,\n\t                        att.attname column_name,\n\t                        att.atttypid::regtype::text type_name,\n\t                        att.atthasdef AS has_default,\n\t                        pg_catalog.pg_get_expr(def.adbin, def.adrelid, true) as default\n\t                FROM    pg_catalog.pg_attribute att\n\t                        INNER JOIN pg_catalog.pg_class cls\n\t                            ON att.attrelid = cls.oid\n\t                        INNER JOIN pg_catalog.pg_namespace nsp\n\t                            ON cls.relnamespace = nsp.oid\n\t                        LEFT OUTER JOIN pg_attrdef def\n\t                            ON def.adrelid = att.attrelid\n\t                            AND def.adnum = att.attnum\n\t                WHERE   cls.relkind = ANY($1)\n\t                        AND NOT att.attisdropped\n\t                        AND att.attnum  > 0\n\t                ORDER BY 1, 2, att.attnum",
    params: ["{r,p,f}"],
  },
  {
    tool: "pgcli 3.5.0 completion refresh",
    sql: "SELECT  nsp.nspname schema_name,\n\t                        cls.relname table_name,\n\t                        att.attname column_name,\n\t                        att.atttypid::regtype::text type_name,\n\t                        att.atthasdef AS has_default,\n\t                        pg_catalog.pg_get_expr(def.adbin, def.adrelid, true) as default\n\t                FROM    pg_catalog.pg_attribute att\n\t                        INNER JOIN pg_catalog.pg_class cls\n\t                            ON att.attrelid = cls.oid\n\t                        INNER JOIN pg_catalog.pg_namespace nsp\n\t                            ON cls.relnamespace = nsp.oid\n\t                        LEFT OUTER JOIN pg_attrdef def\n\t                            ON def.adrelid = att.attrelid\n\t                            AND def.adnum = att.attnum\n\t                WHERE   cls.relkind = ANY($1)\n\t                        AND NOT att.attisdropped\n\t                        AND att.attnum  > 0\n\t                ORDER BY 1, 2, att.attnum",
    params: ["{v,m}"],
  },
  {
    tool: "pgcli 3.5.0 completion refresh",
    sql: "SELECT n.nspname schema_name,\n\t                        p.proname func_name,\n\t                        p.proargnames,\n\t                        COALESCE(proallargtypes::regtype[], proargtypes::regtype[])::text[],\n\t                        p.proargmodes,\n\t                        prorettype::regtype::text return_type,\n\t                        p.prokind = 'a' is_aggregate,\n\t                        p.prokind = 'w' is_window,\n\t                        p.proretset is_set_returning,\n\t                        d.deptype = 'e' is_extension,\n\t                        pg_get_expr(proargdefaults, 0) AS arg_defaults\n\t                FROM pg_catalog.pg_proc p\n\t                        INNER JOIN pg_catalog.pg_namespace n\n\t                            ON n.oid = p.pronamespace\n\t                LEFT JOIN pg_depend d ON d.objid = p.oid and d.deptype = 'e'\n\t                WHERE p.prorettype::regtype != 'trigger'::regtype\n\t                ORDER BY 1, 2",
  },
  {
    tool: "pgcli 3.5.0 completion refresh",
    sql: "SELECT n.nspname schema_name,\n\t                           t.typname type_name\n\t                    FROM   pg_catalog.pg_type t\n\t                           INNER JOIN pg_catalog.pg_namespace n\n\t                              ON n.oid = t.typnamespace\n\t                    WHERE ( t.typrelid = 0  -- non-composite types\n\t                            OR (  -- composite type, but not a table\n\t                                  SELECT c.relkind = 'c'\n\t                                  FROM pg_catalog.pg_class c\n\t                                  WHERE c.oid = t.typrelid\n\t                                )\n\t                          )\n\t                          AND NOT EXISTS( -- ignore array types\n\t                                SELECT  1\n\t                                FROM    pg_catalog.pg_type el\n\t                                WHERE   el.oid = t.typelem AND el.typarray = t.oid\n\t                              )\n\t                          AND n.nspname <> 'pg_catalog'\n\t                          AND n.nspname <> 'information_schema'\n\t                    ORDER BY 1, 2;",
  },
  {
    tool: "pgcli 3.5.0 completion refresh",
    sql: "SELECT d.datname\n\t        FROM pg_catalog.pg_database d\n\t        ORDER BY 1",
  },
  {
    tool: "pgcli 3.5.0 completion refresh",
    sql: "SELECT s_p.nspname AS parentschema,\n\t                       t_p.relname AS parenttable,\n\t                       unnest((\n\t                        select\n\t                            array_agg(attname ORDER BY i)\n\t                        from\n\t                            (select unnest(confkey) as attnum, generate_subscripts(confkey, 1) as i) x\n\t                            JOIN pg_catalog.pg_attribute c USING(attnum)\n\t                            WHERE c.attrelid = fk.confrelid\n\t                        )) AS parentcolumn,\n\t                       s_c.nspname AS childschema,\n\t                       t_c.relname AS childtable,\n\t                       unnest((\n\t                        select\n\t                            array_agg(attname ORDER BY i)\n\t                        from\n\t                            (select unnest(conkey) as attnum, generate_subscripts(conkey, 1) as i) x\n\t                            JOIN pg_catalog.pg_attribute c USING(attnum)\n\t                            WHERE c.attrelid = fk.conrelid\n\t                        )) AS childcolumn\n\t                FROM pg_catalog.pg_constraint fk\n\t                JOIN pg_catalog.pg_class      t_p ON t_p.oid = fk.confrelid\n\t                JOIN pg_catalog.pg_namespace  s_p ON s_p.oid = t_p.relnamespace\n\t                JOIN pg_catalog.pg_class      t_c ON t_c.oid = fk.conrelid\n\t                JOIN pg_catalog.pg_namespace  s_c ON s_c.oid = t_c.relnamespace\n\t                WHERE fk.contype = 'f';",
  },
  {
    tool: "pgcli 3.5.0 completion refresh",
    sql: "WITH Words AS (\n\t                SELECT regexp_split_to_table(prosrc, '\\W+') AS Word, COUNT(1)\n\t                FROM pg_catalog.pg_proc P\n\t                JOIN pg_catalog.pg_namespace N ON N.oid = P.pronamespace\n\t                JOIN pg_catalog.pg_language L ON L.oid = P.prolang\n\t                WHERE L.lanname IN ('sql', 'plpgsql')\n\t                AND N.nspname NOT IN ('pg_catalog', 'information_schema')\n\t                GROUP BY Word\n\t            ),\n\t            OrderWords AS (\n\t                SELECT Word,\n\t                    ROW_NUMBER() OVER(PARTITION BY LOWER(Word) ORDER BY Count DESC)\n\t                FROM Words\n\t                WHERE Word ~* '.*[a-z].*'\n\t            ),\n\t            Names AS (\n\t                --Column names\n\t                SELECT attname AS Name\n\t                FROM pg_catalog.pg_attribute\n\t                UNION -- Table/view names\n\t                SELECT relname\n\t                FROM pg_catalog.pg_class\n\t                UNION -- Function names\n\t                SELECT proname\n\t                FROM pg_catalog.pg_proc\n\t                UNION -- Type names\n\t                SELECT typname\n\t                FROM pg_catalog.pg_type\n\t                UNION -- Schema names\n\t                SELECT nspname\n\t                FROM pg_catalog.pg_namespace\n\t                UNION -- Parameter names\n\t                SELECT unnest(proargnames)\n\t                FROM pg_proc\n\t            )\n\t            SELECT Word\n\t            FROM OrderWords\n\t            WHERE LOWER(Word) IN (SELECT Name FROM Names)\n\t            AND Row_Number = 1;",
  },
  {
    tool: "Kysely 0.28.19 introspection",
    sql: 'select "a"."attname" as "column", "a"."attnotnull" as "not_null", "a"."atthasdef" as "has_default", "c"."relname" as "table", "c"."relkind" as "table_type", "ns"."nspname" as "schema", "typ"."typname" as "type", "dtns"."nspname" as "type_schema", col_description(a.attrelid, a.attnum) as "column_description", pg_get_serial_sequence(quote_ident(ns.nspname) || \'.\' || quote_ident(c.relname), a.attname) as "auto_incrementing" from "pg_catalog"."pg_attribute" as "a" inner join "pg_catalog"."pg_class" as "c" on "a"."attrelid" = "c"."oid" inner join "pg_catalog"."pg_namespace" as "ns" on "c"."relnamespace" = "ns"."oid" inner join "pg_catalog"."pg_type" as "typ" on "a"."atttypid" = "typ"."oid" inner join "pg_catalog"."pg_namespace" as "dtns" on "typ"."typnamespace" = "dtns"."oid" where "c"."relkind" in ($1, $2, $3) and "ns"."nspname" !~ $4 and "ns"."nspname" != $5 and "ns"."nspname" != $6 and has_schema_privilege(ns.nspname, \'USAGE\') and "a"."attnum" >= $7 and "a"."attisdropped" != $8 and "c"."relname" != $9 and "c"."relname" != $10 order by "ns"."nspname", "c"."relname", "a"."attnum"',
    params: [
      "r",
      "v",
      "p",
      "^pg_",
      "information_schema",
      "crdb_internal",
      "0",
      "t",
      "kysely_migration",
      "kysely_migration_lock",
    ],
  },
  { tool: "Kysely 0.28.19 introspection", sql: 'select "nspname" from "pg_catalog"."pg_namespace"' },
  { tool: "TypeORM 1.1.1 schema diff", sql: "SELECT version()" },
  { tool: "TypeORM 1.1.1 schema diff", sql: "SELECT * FROM current_schema()" },
  {
    tool: "TypeORM 1.1.1 schema diff",
    sql: 'SELECT * FROM "information_schema"."tables" WHERE "table_schema" = $1 AND "table_name" = $2',
    params: ["public", "typeorm_metadata"],
  },
  {
    tool: "Sequelize 6.37.8 queryInterface",
    sql: "WITH ranges AS (  SELECT pg_range.rngtypid, pg_type.typname AS rngtypname,         pg_type.typarray AS rngtyparray, pg_range.rngsubtype    FROM pg_range LEFT OUTER JOIN pg_type ON pg_type.oid = pg_range.rngtypid)SELECT pg_type.typname, pg_type.typtype, pg_type.oid, pg_type.typarray,       ranges.rngtypname, ranges.rngtypid, ranges.rngtyparray  FROM pg_type LEFT OUTER JOIN ranges ON pg_type.oid = ranges.rngsubtype WHERE (pg_type.typtype IN('b', 'e'));",
  },
  {
    tool: "Sequelize 6.37.8 queryInterface",
    sql: "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type LIKE '%TABLE' AND table_name != 'spatial_ref_sys';",
  },
  {
    tool: "Sequelize 6.37.8 queryInterface",
    sql: "SELECT pk.constraint_type as \"Constraint\",c.column_name as \"Field\", c.column_default as \"Default\",c.is_nullable as \"Null\", (CASE WHEN c.udt_name = 'hstore' THEN c.udt_name ELSE c.data_type END) || (CASE WHEN c.character_maximum_length IS NOT NULL THEN '(' || c.character_maximum_length || ')' ELSE '' END) as \"Type\", (SELECT array_agg(e.enumlabel) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_enum e ON t.oid=e.enumtypid WHERE t.typname=c.udt_name) AS \"special\", (SELECT pgd.description FROM pg_catalog.pg_statio_all_tables AS st INNER JOIN pg_catalog.pg_description pgd on (pgd.objoid=st.relid) WHERE c.ordinal_position=pgd.objsubid AND c.table_name=st.relname) AS \"Comment\" FROM information_schema.columns c LEFT JOIN (SELECT tc.table_schema, tc.table_name, cu.column_name, tc.constraint_type FROM information_schema.TABLE_CONSTRAINTS tc JOIN information_schema.KEY_COLUMN_USAGE  cu ON tc.table_schema=cu.table_schema and tc.table_name=cu.table_name and tc.constraint_name=cu.constraint_name and tc.constraint_type='PRIMARY KEY') pk ON pk.table_schema=c.table_schema AND pk.table_name=c.table_name AND pk.column_name=c.column_name WHERE c.table_name = 'customers' AND c.table_schema = 'public'",
  },
  {
    tool: "Sequelize 6.37.8 queryInterface",
    sql: "SELECT i.relname AS name, ix.indisprimary AS primary, ix.indisunique AS unique, ix.indkey AS indkey, array_agg(a.attnum) as column_indexes, array_agg(a.attname) AS column_names, pg_get_indexdef(ix.indexrelid) AS definition FROM pg_class t, pg_class i, pg_index ix, pg_attribute a WHERE t.oid = ix.indrelid AND i.oid = ix.indexrelid AND a.attrelid = t.oid AND t.relkind = 'r' and t.relname = 'orders' GROUP BY i.relname, ix.indexrelid, ix.indisprimary, ix.indisunique, ix.indkey ORDER BY i.relname;",
  },
  {
    tool: "Sequelize 6.37.8 queryInterface",
    sql: "SELECT DISTINCT tc.constraint_name as constraint_name, tc.constraint_schema as constraint_schema, tc.constraint_catalog as constraint_catalog, tc.table_name as table_name,tc.table_schema as table_schema,tc.table_catalog as table_catalog,tc.initially_deferred as initially_deferred,tc.is_deferrable as is_deferrable,kcu.column_name as column_name,ccu.table_schema  AS referenced_table_schema,ccu.table_catalog  AS referenced_table_catalog,ccu.table_name  AS referenced_table_name,ccu.column_name AS referenced_column_name FROM information_schema.table_constraints AS tc JOIN information_schema.key_column_usage AS kcu ON tc.constraint_name = kcu.constraint_name JOIN information_schema.constraint_column_usage AS ccu ON ccu.constraint_name = tc.constraint_name WHERE constraint_type = 'FOREIGN KEY' AND tc.table_name = 'orders' AND tc.table_catalog = 'shop'",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT \n\t    n.nspname AS table_schema, \n\t    c.relname AS table_name, \n\t    CASE \n\t        WHEN c.relkind = 'r' THEN 'table'\n\t        WHEN c.relkind = 'v' THEN 'view'\n\t        WHEN c.relkind = 'm' THEN 'materialized_view'\n\t    END AS type,\n\t\tc.relrowsecurity AS rls_enabled\n\tFROM \n\t    pg_catalog.pg_class c\n\tJOIN \n\t    pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n\tWHERE \n\t\tc.relkind IN ('r', 'v', 'm') \n\t     AND n.nspname = 'public';",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "select s.nspname as table_schema\n\t  from pg_catalog.pg_namespace s\n\t  join pg_catalog.pg_user u on u.usesysid = s.nspowner\n\t  where nspname not in ('information_schema', 'pg_catalog', 'public')\n\t        and nspname not like 'pg_toast%'\n\t        and nspname not like 'pg_temp_%'\n\t  order by table_schema;",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "select schemaname, sequencename, start_value, min_value, max_value, increment_by, cycle, cache_size from pg_sequences as seq WHERE schemaname = 'public';",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "select n.nspname as enum_schema,\n\t  t.typname as enum_name,\n\t  e.enumlabel as enum_value,\n\t  e.enumsortorder as sort_order\n\t  from pg_type t\n\t  join pg_enum e on t.oid = e.enumtypid\n\t  join pg_catalog.pg_namespace n ON n.oid = t.typnamespace\n\t   WHERE n.nspname = 'public'\n\t  order by enum_schema, enum_name, sort_order;",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT rolname, rolinherit, rolcreatedb, rolcreaterole FROM pg_roles;",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: 'SELECT schemaname, tablename, policyname as name, permissive as "as", roles as to, cmd as for, qual as using, with_check as "withCheck" FROM pg_policies WHERE schemaname = \'public\';',
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT \n\t    a.attrelid::regclass::text AS table_name,  -- Table, view, or materialized view name\n\t    a.attname AS column_name,   -- Column name\n\t    CASE \n\t        WHEN NOT a.attisdropped THEN \n\t            CASE \n\t                WHEN a.attnotnull THEN 'NO'\n\t                ELSE 'YES'\n\t            END \n\t        ELSE NULL \n\t    END AS is_nullable,  -- NULL or NOT NULL constraint\n\t    a.attndims AS array_dimensions,  -- Array dimensions\n\t    CASE \n\t        WHEN a.atttypid = ANY ('{int,int8,int2}'::regtype[]) \n\t        AND EXISTS (\n\t            SELECT FROM pg_attrdef ad\n\t            WHERE ad.adrelid = a.attrelid \n\t            AND ad.adnum = a.attnum \n\t            AND pg_get_expr(ad.adbin, ad.adrelid) = 'nextval(''' \n\t                || pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)::regclass || '''::regclass)'\n\t        )\n\t        THEN CASE a.atttypid\n\t            WHEN 'int'::regtype THEN 'serial'\n\t            WHEN 'int8'::regtype THEN 'bigserial'\n\t            WHEN 'int2'::regtype THEN 'smallserial'\n\t        END\n\t        ELSE format_type(a.atttypid, a.atttypmod)\n\t    END AS data_type,  -- Column data type\n\t--    ns.nspname AS type_schema,  -- Schema name\n\t    pg_get_serial_sequence('\"public\".\"customers\"', a.attname)::regclass AS seq_name,  -- Serial sequence (if any)\n\t    c.column_default,  -- Column default value\n\t    c.data_type AS additional_dt,  -- Data type from information_schema\n\t    c.udt_name AS enum_name,  -- Enum type (if applicable)\n\t    c.is_generated,  -- Is it a generated column?\n\t    c.generation_expression,  -- Generation expression (if generated)\n\t    c.is_identity,  -- Is it an identity column?\n\t    c.identity_generation,  -- Identity generation strategy (ALWAYS or BY DEFAULT)\n\t    c.identity_start,  -- Start value of identity column\n\t    c.identity_increment,  -- Increment for identity column\n\t    c.identity_maximum,  -- Maximum value for identity column\n\t    c.identity_minimum,  -- Minimum value for identity column\n\t    c.identity_cycle,  -- Does the identity column cycle?\n\t    enum_ns.nspname AS type_schema  -- Schema of the enum type\n\tFROM \n\t    pg_attribute a\n\tJOIN \n\t    pg_class cls ON cls.oid = a.attrelid  -- Join pg_class to get table/view/materialized view info\n\tJOIN \n\t    pg_namespace ns ON ns.oid = cls.relnamespace  -- Join namespace to get schema info\n\tLEFT JOIN \n\t    information_schema.columns c ON c.column_name = a.attname \n\t        AND c.table_schema = ns.nspname \n\t        AND c.table_name = cls.relname  -- Match schema and table/view name\n\tLEFT JOIN \n\t    pg_type enum_t ON enum_t.oid = a.atttypid  -- Join to get the type info\n\tLEFT JOIN \n\t    pg_namespace enum_ns ON enum_ns.oid = enum_t.typnamespace  -- Join to get the enum schema\n\tWHERE \n\t    a.attnum > 0  -- Valid column numbers only\n\t    AND NOT a.attisdropped  -- Skip dropped columns\n\t    AND cls.relkind IN ('r', 'v', 'm')  -- Include regular tables ('r'), views ('v'), and materialized views ('m')\n\t    AND ns.nspname = 'public'  -- Filter by schema\n\t    AND cls.relname = 'customers'  -- Filter by table name\n\tORDER BY \n\t    a.attnum;  -- Order by column number",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT \n\t    a.attrelid::regclass::text AS table_name,  -- Table, view, or materialized view name\n\t    a.attname AS column_name,   -- Column name\n\t    CASE \n\t        WHEN NOT a.attisdropped THEN \n\t            CASE \n\t                WHEN a.attnotnull THEN 'NO'\n\t                ELSE 'YES'\n\t            END \n\t        ELSE NULL \n\t    END AS is_nullable,  -- NULL or NOT NULL constraint\n\t    a.attndims AS array_dimensions,  -- Array dimensions\n\t    CASE \n\t        WHEN a.atttypid = ANY ('{int,int8,int2}'::regtype[]) \n\t        AND EXISTS (\n\t            SELECT FROM pg_attrdef ad\n\t            WHERE ad.adrelid = a.attrelid \n\t            AND ad.adnum = a.attnum \n\t            AND pg_get_expr(ad.adbin, ad.adrelid) = 'nextval(''' \n\t                || pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)::regclass || '''::regclass)'\n\t        )\n\t        THEN CASE a.atttypid\n\t            WHEN 'int'::regtype THEN 'serial'\n\t            WHEN 'int8'::regtype THEN 'bigserial'\n\t            WHEN 'int2'::regtype THEN 'smallserial'\n\t        END\n\t        ELSE format_type(a.atttypid, a.atttypmod)\n\t    END AS data_type,  -- Column data type\n\t--    ns.nspname AS type_schema,  -- Schema name\n\t    pg_get_serial_sequence('\"public\".\"orders\"', a.attname)::regclass AS seq_name,  -- Serial sequence (if any)\n\t    c.column_default,  -- Column default value\n\t    c.data_type AS additional_dt,  -- Data type from information_schema\n\t    c.udt_name AS enum_name,  -- Enum type (if applicable)\n\t    c.is_generated,  -- Is it a generated column?\n\t    c.generation_expression,  -- Generation expression (if generated)\n\t    c.is_identity,  -- Is it an identity column?\n\t    c.identity_generation,  -- Identity generation strategy (ALWAYS or BY DEFAULT)\n\t    c.identity_start,  -- Start value of identity column\n\t    c.identity_increment,  -- Increment for identity column\n\t    c.identity_maximum,  -- Maximum value for identity column\n\t    c.identity_minimum,  -- Minimum value for identity column\n\t    c.identity_cycle,  -- Does the identity column cycle?\n\t    enum_ns.nspname AS type_schema  -- Schema of the enum type\n\tFROM \n\t    pg_attribute a\n\tJOIN \n\t    pg_class cls ON cls.oid = a.attrelid  -- Join pg_class to get table/view/materialized view info\n\tJOIN \n\t    pg_namespace ns ON ns.oid = cls.relnamespace  -- Join namespace to get schema info\n\tLEFT JOIN \n\t    information_schema.columns c ON c.column_name = a.attname \n\t        AND c.table_schema = ns.nspname \n\t        AND c.table_name = cls.relname  -- Match schema and table/view name\n\tLEFT JOIN \n\t    pg_type enum_t ON enum_t.oid = a.atttypid  -- Join to get the type info\n\tLEFT JOIN \n\t    pg_namespace enum_ns ON enum_ns.oid = enum_t.typnamespace  -- Join to get the enum schema\n\tWHERE \n\t    a.attnum > 0  -- Valid column numbers only\n\t    AND NOT a.attisdropped  -- Skip dropped columns\n\t    AND cls.relkind IN ('r', 'v', 'm')  -- Include regular tables ('r'), views ('v'), and materialized views ('m')\n\t    AND ns.nspname = 'public'  -- Filter by schema\n\t    AND cls.relname = 'orders'  -- Filter by table name\n\tORDER BY \n\t    a.attnum;  -- Order by column number",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT c.column_name, c.data_type, constraint_type, constraint_name, constraint_schema\n\t      FROM information_schema.table_constraints tc\n\t      JOIN information_schema.constraint_column_usage AS ccu USING (constraint_schema, constraint_name)\n\t      JOIN information_schema.columns AS c ON c.table_schema = tc.constraint_schema\n\t        AND tc.table_name = c.table_name AND ccu.column_name = c.column_name\n\t      WHERE tc.table_name = 'customers' and constraint_schema = 'public';",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT c.column_name, c.data_type, constraint_type, constraint_name, constraint_schema\n\t      FROM information_schema.table_constraints tc\n\t      JOIN information_schema.constraint_column_usage AS ccu USING (constraint_schema, constraint_name)\n\t      JOIN information_schema.columns AS c ON c.table_schema = tc.constraint_schema\n\t        AND tc.table_name = c.table_name AND ccu.column_name = c.column_name\n\t      WHERE tc.table_name = 'orders' and constraint_schema = 'public';",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT \n\t\t\t\t\t\t\ttc.constraint_name,\n\t\t\t\t\t\t\ttc.constraint_type,\n\t\t\t\t\t\t\tpg_get_constraintdef(con.oid) AS constraint_definition\n\t\t\t\t\t\tFROM \n\t\t\t\t\t\t\tinformation_schema.table_constraints AS tc\n\t\t\t\t\t\t\tJOIN pg_constraint AS con \n\t\t\t\t\t\t\t\tON tc.constraint_name = con.conname\n\t\t\t\t\t\t\t\tAND con.conrelid = (\n\t\t\t\t\t\t\t\t\tSELECT oid \n\t\t\t\t\t\t\t\t\tFROM pg_class \n\t\t\t\t\t\t\t\t\tWHERE relname = tc.table_name \n\t\t\t\t\t\t\t\t\tAND relnamespace = (\n\t\t\t\t\t\t\t\t\t\tSELECT oid \n\t\t\t\t\t\t\t\t\t\tFROM pg_namespace \n\t\t\t\t\t\t\t\t\t\tWHERE nspname = tc.constraint_schema\n\t\t\t\t\t\t\t\t\t)\n\t\t\t\t\t\t\t\t)\n\t\t\t\t\t\tWHERE \n\t\t\t\t\t\t\ttc.table_name = 'customers'\n\t\t\t\t\t\t\tAND tc.constraint_schema = 'public'\n\t\t\t\t\t\t\tAND tc.constraint_type = 'CHECK'\n\t\t\t\t\t\t\tAND con.contype = 'c';",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT \n\t\t\t\t\t\t\ttc.constraint_name,\n\t\t\t\t\t\t\ttc.constraint_type,\n\t\t\t\t\t\t\tpg_get_constraintdef(con.oid) AS constraint_definition\n\t\t\t\t\t\tFROM \n\t\t\t\t\t\t\tinformation_schema.table_constraints AS tc\n\t\t\t\t\t\t\tJOIN pg_constraint AS con \n\t\t\t\t\t\t\t\tON tc.constraint_name = con.conname\n\t\t\t\t\t\t\t\tAND con.conrelid = (\n\t\t\t\t\t\t\t\t\tSELECT oid \n\t\t\t\t\t\t\t\t\tFROM pg_class \n\t\t\t\t\t\t\t\t\tWHERE relname = tc.table_name \n\t\t\t\t\t\t\t\t\tAND relnamespace = (\n\t\t\t\t\t\t\t\t\t\tSELECT oid \n\t\t\t\t\t\t\t\t\t\tFROM pg_namespace \n\t\t\t\t\t\t\t\t\t\tWHERE nspname = tc.constraint_schema\n\t\t\t\t\t\t\t\t\t)\n\t\t\t\t\t\t\t\t)\n\t\t\t\t\t\tWHERE \n\t\t\t\t\t\t\ttc.table_name = 'orders'\n\t\t\t\t\t\t\tAND tc.constraint_schema = 'public'\n\t\t\t\t\t\t\tAND tc.constraint_type = 'CHECK'\n\t\t\t\t\t\t\tAND con.contype = 'c';",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT\n\t            con.contype AS constraint_type,\n\t            nsp.nspname AS constraint_schema,\n\t            con.conname AS constraint_name,\n\t            rel.relname AS table_name,\n\t            att.attname AS column_name,\n\t            fnsp.nspname AS foreign_table_schema,\n\t            frel.relname AS foreign_table_name,\n\t            fatt.attname AS foreign_column_name,\n\t            CASE con.confupdtype\n\t              WHEN 'a' THEN 'NO ACTION'\n\t              WHEN 'r' THEN 'RESTRICT'\n\t              WHEN 'n' THEN 'SET NULL'\n\t              WHEN 'c' THEN 'CASCADE'\n\t              WHEN 'd' THEN 'SET DEFAULT'\n\t            END AS update_rule,\n\t            CASE con.confdeltype\n\t              WHEN 'a' THEN 'NO ACTION'\n\t              WHEN 'r' THEN 'RESTRICT'\n\t              WHEN 'n' THEN 'SET NULL'\n\t              WHEN 'c' THEN 'CASCADE'\n\t              WHEN 'd' THEN 'SET DEFAULT'\n\t            END AS delete_rule\n\t          FROM\n\t            pg_catalog.pg_constraint con\n\t            JOIN pg_catalog.pg_class rel ON rel.oid = con.conrelid\n\t            JOIN pg_catalog.pg_namespace nsp ON nsp.oid = con.connamespace\n\t            LEFT JOIN pg_catalog.pg_attribute att ON att.attnum = ANY (con.conkey)\n\t              AND att.attrelid = con.conrelid\n\t            LEFT JOIN pg_catalog.pg_class frel ON frel.oid = con.confrelid\n\t            LEFT JOIN pg_catalog.pg_namespace fnsp ON fnsp.oid = frel.relnamespace\n\t            LEFT JOIN pg_catalog.pg_attribute fatt ON fatt.attnum = ANY (con.confkey)\n\t              AND fatt.attrelid = con.confrelid\n\t          WHERE\n\t            nsp.nspname = 'public'\n\t            AND rel.relname = 'customers'\n\t            AND con.contype IN ('f');",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT\n\t            con.contype AS constraint_type,\n\t            nsp.nspname AS constraint_schema,\n\t            con.conname AS constraint_name,\n\t            rel.relname AS table_name,\n\t            att.attname AS column_name,\n\t            fnsp.nspname AS foreign_table_schema,\n\t            frel.relname AS foreign_table_name,\n\t            fatt.attname AS foreign_column_name,\n\t            CASE con.confupdtype\n\t              WHEN 'a' THEN 'NO ACTION'\n\t              WHEN 'r' THEN 'RESTRICT'\n\t              WHEN 'n' THEN 'SET NULL'\n\t              WHEN 'c' THEN 'CASCADE'\n\t              WHEN 'd' THEN 'SET DEFAULT'\n\t            END AS update_rule,\n\t            CASE con.confdeltype\n\t              WHEN 'a' THEN 'NO ACTION'\n\t              WHEN 'r' THEN 'RESTRICT'\n\t              WHEN 'n' THEN 'SET NULL'\n\t              WHEN 'c' THEN 'CASCADE'\n\t              WHEN 'd' THEN 'SET DEFAULT'\n\t            END AS delete_rule\n\t          FROM\n\t            pg_catalog.pg_constraint con\n\t            JOIN pg_catalog.pg_class rel ON rel.oid = con.conrelid\n\t            JOIN pg_catalog.pg_namespace nsp ON nsp.oid = con.connamespace\n\t            LEFT JOIN pg_catalog.pg_attribute att ON att.attnum = ANY (con.conkey)\n\t              AND att.attrelid = con.conrelid\n\t            LEFT JOIN pg_catalog.pg_class frel ON frel.oid = con.confrelid\n\t            LEFT JOIN pg_catalog.pg_namespace fnsp ON fnsp.oid = frel.relnamespace\n\t            LEFT JOIN pg_catalog.pg_attribute fatt ON fatt.attnum = ANY (con.confkey)\n\t              AND fatt.attrelid = con.confrelid\n\t          WHERE\n\t            nsp.nspname = 'public'\n\t            AND rel.relname = 'orders'\n\t            AND con.contype IN ('f');",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT  DISTINCT ON (t.relname, ic.relname, k.i) t.relname as table_name, ic.relname AS indexname,\n\t        k.i AS index_order,\n\t        i.indisunique as is_unique,\n\t        am.amname as method,\n\t        ic.reloptions as with,\n\t        coalesce(a.attname, pg_get_indexdef(i.indexrelid, k.i, false)) AS column_name,\n\t          CASE\n\t        WHEN pg_get_expr(i.indexprs, i.indrelid) IS NOT NULL THEN 1\n\t        ELSE 0\n\t    END AS is_expression,\n\t        i.indoption[k.i-1] & 1 = 1 AS descending,\n\t        i.indoption[k.i-1] & 2 = 2 AS nulls_first,\n\t        pg_get_expr(\n\t                              i.indpred,\n\t                              i.indrelid\n\t                          ) as where,\n\t         opc.opcname\n\t      FROM pg_class t\n\t          LEFT JOIN pg_index i ON t.oid = i.indrelid\n\t          LEFT JOIN pg_class ic ON ic.oid = i.indexrelid\n\t\t\t  CROSS JOIN LATERAL (SELECT unnest(i.indkey), generate_subscripts(i.indkey, 1) + 1) AS k(attnum, i)\n\t          LEFT JOIN pg_attribute AS a\n\t            ON i.indrelid = a.attrelid AND k.attnum = a.attnum\n\t          JOIN pg_namespace c on c.oid = t.relnamespace\n\t        LEFT JOIN pg_am AS am ON ic.relam = am.oid\n\t        JOIN pg_opclass opc ON opc.oid = ANY(i.indclass)\n\t      WHERE\n\t      c.nspname = 'public' AND\n\t      t.relname = 'customers';",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT  DISTINCT ON (t.relname, ic.relname, k.i) t.relname as table_name, ic.relname AS indexname,\n\t        k.i AS index_order,\n\t        i.indisunique as is_unique,\n\t        am.amname as method,\n\t        ic.reloptions as with,\n\t        coalesce(a.attname, pg_get_indexdef(i.indexrelid, k.i, false)) AS column_name,\n\t          CASE\n\t        WHEN pg_get_expr(i.indexprs, i.indrelid) IS NOT NULL THEN 1\n\t        ELSE 0\n\t    END AS is_expression,\n\t        i.indoption[k.i-1] & 1 = 1 AS descending,\n\t        i.indoption[k.i-1] & 2 = 2 AS nulls_first,\n\t        pg_get_expr(\n\t                              i.indpred,\n\t                              i.indrelid\n\t                          ) as where,\n\t         opc.opcname\n\t      FROM pg_class t\n\t          LEFT JOIN pg_index i ON t.oid = i.indrelid\n\t          LEFT JOIN pg_class ic ON ic.oid = i.indexrelid\n\t\t\t  CROSS JOIN LATERAL (SELECT unnest(i.indkey), generate_subscripts(i.indkey, 1) + 1) AS k(attnum, i)\n\t          LEFT JOIN pg_attribute AS a\n\t            ON i.indrelid = a.attrelid AND k.attnum = a.attnum\n\t          JOIN pg_namespace c on c.oid = t.relnamespace\n\t        LEFT JOIN pg_am AS am ON ic.relam = am.oid\n\t        JOIN pg_opclass opc ON opc.oid = ANY(i.indclass)\n\t      WHERE\n\t      c.nspname = 'public' AND\n\t      t.relname = 'orders';",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT\n\t          idx.indexrelname AS index_name,\n\t          idx.relname AS table_name,\n\t          schemaname,\n\t          CASE WHEN con.conname IS NOT NULL THEN 1 ELSE 0 END AS generated_by_constraint\n\t        FROM\n\t          pg_stat_user_indexes idx\n\t        LEFT JOIN\n\t          pg_constraint con ON con.conindid = idx.indexrelid\n\t        WHERE idx.relname = 'customers' and schemaname = 'public'\n\t        group by index_name, table_name,schemaname, generated_by_constraint;",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT\n\t          idx.indexrelname AS index_name,\n\t          idx.relname AS table_name,\n\t          schemaname,\n\t          CASE WHEN con.conname IS NOT NULL THEN 1 ELSE 0 END AS generated_by_constraint\n\t        FROM\n\t          pg_stat_user_indexes idx\n\t        LEFT JOIN\n\t          pg_constraint con ON con.conindid = idx.indexrelid\n\t        WHERE idx.relname = 'orders' and schemaname = 'public'\n\t        group by index_name, table_name,schemaname, generated_by_constraint;",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT \n\t    a.attrelid::regclass::text AS table_name,  -- Table, view, or materialized view name\n\t    a.attname AS column_name,   -- Column name\n\t    CASE \n\t        WHEN NOT a.attisdropped THEN \n\t            CASE \n\t                WHEN a.attnotnull THEN 'NO'\n\t                ELSE 'YES'\n\t            END \n\t        ELSE NULL \n\t    END AS is_nullable,  -- NULL or NOT NULL constraint\n\t    a.attndims AS array_dimensions,  -- Array dimensions\n\t    CASE \n\t        WHEN a.atttypid = ANY ('{int,int8,int2}'::regtype[]) \n\t        AND EXISTS (\n\t            SELECT FROM pg_attrdef ad\n\t            WHERE ad.adrelid = a.attrelid \n\t            AND ad.adnum = a.attnum \n\t            AND pg_get_expr(ad.adbin, ad.adrelid) = 'nextval(''' \n\t                || pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)::regclass || '''::regclass)'\n\t        )\n\t        THEN CASE a.atttypid\n\t            WHEN 'int'::regtype THEN 'serial'\n\t            WHEN 'int8'::regtype THEN 'bigserial'\n\t            WHEN 'int2'::regtype THEN 'smallserial'\n\t        END\n\t        ELSE format_type(a.atttypid, a.atttypmod)\n\t    END AS data_type,  -- Column data type\n\t--    ns.nspname AS type_schema,  -- Schema name\n\t    pg_get_serial_sequence('\"public\".\"big_orders\"', a.attname)::regclass AS seq_name,  -- Serial sequence (if any)\n\t    c.column_default,  -- Column default value\n\t    c.data_type AS additional_dt,  -- Data type from information_schema\n\t    c.udt_name AS enum_name,  -- Enum type (if applicable)\n\t    c.is_generated,  -- Is it a generated column?\n\t    c.generation_expression,  -- Generation expression (if generated)\n\t    c.is_identity,  -- Is it an identity column?\n\t    c.identity_generation,  -- Identity generation strategy (ALWAYS or BY DEFAULT)\n\t    c.identity_start,  -- Start value of identity column\n\t    c.identity_increment,  -- Increment for identity column\n\t    c.identity_maximum,  -- Maximum value for identity column\n\t    c.identity_minimum,  -- Minimum value for identity column\n\t    c.identity_cycle,  -- Does the identity column cycle?\n\t    enum_ns.nspname AS type_schema  -- Schema of the enum type\n\tFROM \n\t    pg_attribute a\n\tJOIN \n\t    pg_class cls ON cls.oid = a.attrelid  -- Join pg_class to get table/view/materialized view info\n\tJOIN \n\t    pg_namespace ns ON ns.oid = cls.relnamespace  -- Join namespace to get schema info\n\tLEFT JOIN \n\t    information_schema.columns c ON c.column_name = a.attname \n\t        AND c.table_schema = ns.nspname \n\t        AND c.table_name = cls.relname  -- Match schema and table/view name\n\tLEFT JOIN \n\t    pg_type enum_t ON enum_t.oid = a.atttypid  -- Join to get the type info\n\tLEFT JOIN \n\t    pg_namespace enum_ns ON enum_ns.oid = enum_t.typnamespace  -- Join to get the enum schema\n\tWHERE \n\t    a.attnum > 0  -- Valid column numbers only\n\t    AND NOT a.attisdropped  -- Skip dropped columns\n\t    AND cls.relkind IN ('r', 'v', 'm')  -- Include regular tables ('r'), views ('v'), and materialized views ('m')\n\t    AND ns.nspname = 'public'  -- Filter by schema\n\t    AND cls.relname = 'big_orders'  -- Filter by table name\n\tORDER BY \n\t    a.attnum;  -- Order by column number",
  },
  {
    tool: "drizzle-kit 0.31.11 pull",
    sql: "SELECT\n\t    c.relname AS view_name,\n\t    n.nspname AS schema_name,\n\t    pg_get_viewdef(c.oid, true) AS definition,\n\t    ts.spcname AS tablespace_name,\n\t    c.reloptions AS options,\n\t    pg_tablespace_location(ts.oid) AS location\n\tFROM\n\t    pg_class c\n\tJOIN\n\t    pg_namespace n ON c.relnamespace = n.oid\n\tLEFT JOIN\n\t    pg_tablespace ts ON c.reltablespace = ts.oid \n\tWHERE\n\t    (c.relkind = 'm' OR c.relkind = 'v')\n\t    AND n.nspname = 'public'\n\t    AND c.relname = 'big_orders';",
  },
];
