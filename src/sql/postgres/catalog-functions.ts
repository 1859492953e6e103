/**
 * Read-only catalog, formatting and privilege-inspection built-ins that count as part of a read: a query
 * calling them needs only `sql:read` (no `sql:function`). They are what psql's `\d` family, pg_dump, pgAdmin,
 * DBeaver, DataGrip, Metabase, Grafana and ORM reflection (SQLAlchemy, Prisma, Drizzle) call, and the corpus in
 * test/sql/introspection-corpus.test.ts holds those tools' real queries.
 *
 * Admission rule for this list: the function is a built-in of pg_catalog that only reads the system catalogs
 * (which every role can already SELECT) or its own arguments, has no side effect, touches no file, socket or
 * other session, and changes no setting. The dangerous list in function-lists.ts still wins over this one, so
 * a name here can never let pg_read_file, pg_ls_dir, set_config, lo_import, dblink_* or pg_terminate_backend
 * through. Deliberately absent: anything revealing server file paths (pg_relation_filepath,
 * pg_tablespace_location, pg_current_logfile) and sequence functions (nextval, setval). Some entries are marked volatile in pg_proc (sizes, WAL positions,
 * pg_is_in_recovery) only because their answer changes over time; none of them writes anything, which the
 * corpus test checks against a real server (no query of the corpus is given a transaction id).
 */
// biome-ignore format: a long list of names reads best packed
export const CATALOG_READ_FUNCTIONS: readonly string[] = [
  // Search-path visibility tests: "would this catalog row be found unqualified?" A lookup in the caller's
  // own search_path against pg_class, pg_proc, pg_type and friends; returns a boolean, changes nothing.
  "pg_table_is_visible", "pg_type_is_visible", "pg_function_is_visible", "pg_operator_is_visible",
  "pg_opclass_is_visible", "pg_opfamily_is_visible", "pg_collation_is_visible", "pg_conversion_is_visible",
  "pg_statistics_obj_is_visible", "pg_ts_config_is_visible", "pg_ts_dict_is_visible",
  "pg_ts_parser_is_visible", "pg_ts_template_is_visible", "pg_my_temp_schema", "pg_is_other_temp_schema",
  // Name and code lookups: an oid or code in, a name out (pg_roles, pg_database and the encoding table are
  // readable by every role anyway).
  "pg_get_userbyid", "pg_encoding_to_char", "pg_char_to_encoding", "pg_describe_object", "pg_identify_object",
  "pg_identify_object_as_address", "pg_get_object_address", "to_regproc", "to_regprocedure", "to_regoper",
  "to_regoperator", "to_regnamespace", "to_regrole", "to_regcollation", "pg_get_serial_sequence",
  "pg_get_keywords",
  // Deparsers: turn a stored catalog expression or object back into SQL text. They read pg_catalog rows
  // (pg_attrdef, pg_constraint, pg_index, pg_trigger, pg_rewrite, pg_proc, ...) and format them; nothing
  // is executed (pg_get_expr deparses a node tree, it does not evaluate it).
  "pg_get_expr", "pg_get_constraintdef", "pg_get_indexdef", "pg_get_triggerdef", "pg_get_ruledef",
  "pg_get_functiondef", "pg_get_function_arguments", "pg_get_function_identity_arguments",
  "pg_get_function_result", "pg_get_function_arg_default", "pg_get_function_sqlbody",
  "pg_get_statisticsobjdef", "pg_get_statisticsobjdef_columns", "pg_get_statisticsobjdef_expressions",
  "pg_get_partkeydef", "pg_get_partition_constraintdef", "pg_index_column_has_property",
  "pg_index_has_property", "pg_indexam_has_property", "pg_options_to_table", "pg_relation_is_publishable",
  "pg_relation_is_updatable", "pg_column_is_updatable", "pg_get_publication_tables",
  // Comments: pg_description / pg_shdescription rows by oid.
  "shobj_description",
  // Privilege inspection: answer "may role R do P on object O?" from the ACLs in the catalogs. They grant
  // nothing; acldefault/aclexplode/makeaclitem only build or unpack aclitem values.
  "has_table_privilege", "has_column_privilege", "has_any_column_privilege", "has_database_privilege",
  "has_schema_privilege", "has_function_privilege", "has_language_privilege", "has_sequence_privilege",
  "has_foreign_data_wrapper_privilege", "has_server_privilege", "has_tablespace_privilege",
  "has_type_privilege", "has_parameter_privilege", "pg_has_role", "row_security_active", "acldefault",
  "aclexplode", "makeaclitem",
  // Sizes and server facts that monitoring dashboards (Grafana, pgAdmin, Metabase) show: numbers computed from
  // the catalog and relation sizes, no file contents or paths.
  "pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size", "pg_database_size",
  "pg_column_size", "pg_is_in_recovery", "pg_conf_load_time", "pg_jit_available", "pg_encoding_max_length",
  "pg_client_encoding",
  // Settings readers: current_setting(name) answers what SHOW name (sql:session) and SELECT ... FROM pg_settings
  // (a read) already answer; the server itself refuses the settings a role may not see (data_directory and the
  // other paths need pg_read_all_settings). Grafana builds its schema picker from current_setting('search_path').
  "current_setting",
  // Replication status readers (pgAdmin and Grafana dashboards): report WAL positions and replay state. The
  // functions that act on replay or WAL (pg_wal_replay_pause, pg_switch_wal, ...) stay on the dangerous list.
  "pg_current_wal_lsn", "pg_current_wal_insert_lsn", "pg_current_wal_flush_lsn", "pg_last_wal_receive_lsn",
  "pg_last_wal_replay_lsn", "pg_last_xact_replay_timestamp", "pg_is_wal_replay_paused",
  "pg_get_wal_replay_pause_state", "pg_wal_lsn_diff",
  // Formatting helpers the tools wrap around catalog columns (array_to_string, format_type, quote_ident and
  // array_remove are already on the general safe list in function-lists.ts).
  "array_to_string", "format_type", "textlen", "obj_description", "col_description",
];
