/**
 * Which function calls are harmless, which are administration, and everything else in between.
 *
 * Name resolution: PostgreSQL always searches pg_catalog before the schemas of search_path (unless pg_catalog
 * is placed explicitly later in search_path, which Latch prevents by refusing SET search_path and
 * set_config() as protected/admin actions). So an unqualified `lower(x)` is pg_catalog.lower even if a user
 * created public.lower, and unqualified names on the safe list are accepted. A name qualified with another
 * schema (`public.lower`) is a user function and never safe.
 *
 * Resource names: built-ins we know (safe, dangerous or known volatile) are reported as "pg_catalog.<name>"
 * however they were written, so a policy has exactly one name to match; any other function is reported as
 * written (lower-cased by the parser unless quoted, schema-qualified only if it was).
 */

import { CATALOG_READ_FUNCTIONS } from "./catalog-functions.js";

/** Pure or stable built-ins that read nothing beyond their arguments and change nothing. */
// biome-ignore format: a long list of names reads best packed
const SAFE_BUILTINS = [
  // aggregates and window functions
  "count", "sum", "avg", "min", "max", "array_agg", "string_agg", "bool_and", "bool_or", "every", "bit_and",
  "bit_or", "bit_xor", "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg", "stddev",
  "stddev_pop", "stddev_samp", "variance", "var_pop", "var_samp", "corr", "covar_pop", "covar_samp",
  "percentile_cont", "percentile_disc", "mode", "row_number", "rank", "dense_rank", "percent_rank",
  "cume_dist", "ntile", "lag", "lead", "first_value", "last_value", "nth_value", "grouping",
  // strings
  "lower", "upper", "initcap", "length", "char_length", "character_length", "octet_length", "bit_length",
  "substr", "substring", "trim", "btrim", "ltrim", "rtrim", "replace", "concat", "concat_ws", "left",
  "right", "lpad", "rpad", "reverse", "repeat", "position", "strpos", "split_part", "starts_with",
  "translate", "overlay", "format", "quote_ident", "quote_literal", "quote_nullable", "regexp_replace",
  "regexp_match", "regexp_matches", "regexp_like", "regexp_count", "regexp_instr", "regexp_substr",
  "regexp_split_to_array", "regexp_split_to_table", "similar_to_escape", "to_hex", "ascii", "chr", "encode",
  "decode", "md5", "sha224", "sha256", "sha384", "sha512", "string_to_array", "array_to_string", "normalize",
  "is_normalized", "unistr", "casefold",
  // conditionals written as functions
  "coalesce", "nullif", "greatest", "least", "num_nulls", "num_nonnulls",
  // numbers
  "abs", "ceil", "ceiling", "floor", "round", "trunc", "mod", "power", "pow", "sqrt", "cbrt", "exp", "ln",
  "log", "log10", "sign", "div", "pi", "degrees", "radians", "sin", "cos", "tan", "asin", "acos", "atan",
  "atan2", "width_bucket", "random", "gen_random_uuid", "uuidv4", "uuidv7", "scale", "gcd", "lcm",
  // dates and times
  "now", "current_date", "current_time", "current_timestamp", "localtime", "localtimestamp",
  "clock_timestamp", "statement_timestamp", "transaction_timestamp", "timeofday", "date_trunc", "date_part",
  "date_bin", "extract", "timezone", "to_char", "to_date", "to_timestamp", "to_number", "age", "make_date",
  "make_time", "make_timestamp", "make_timestamptz", "make_interval", "justify_days", "justify_hours",
  "justify_interval", "isfinite",
  // arrays and sets
  "unnest", "array_length", "array_position", "array_positions", "array_append", "array_prepend",
  "array_cat", "array_remove", "array_replace", "cardinality", "array_dims", "array_lower", "array_upper",
  "array_ndims", "generate_series", "generate_subscripts",
  // json
  "to_json", "to_jsonb", "row_to_json", "array_to_json", "json_build_object", "jsonb_build_object",
  "json_build_array", "jsonb_build_array", "json_object", "jsonb_object", "json_extract_path",
  "jsonb_extract_path", "json_extract_path_text", "jsonb_extract_path_text", "json_array_length",
  "jsonb_array_length", "json_each", "jsonb_each", "json_each_text", "jsonb_each_text", "json_typeof",
  "jsonb_typeof", "jsonb_set", "jsonb_set_lax", "jsonb_insert", "jsonb_pretty", "json_object_keys",
  "jsonb_object_keys", "json_strip_nulls", "jsonb_strip_nulls", "json_array_elements",
  "jsonb_array_elements", "json_array_elements_text", "jsonb_array_elements_text", "jsonb_path_query",
  "jsonb_path_query_array", "jsonb_path_query_first", "jsonb_path_exists", "jsonb_path_match",
  "json_populate_record", "jsonb_populate_record", "json_to_record", "jsonb_to_record", "json_to_recordset",
  "jsonb_to_recordset",
  // introspection that reveals nothing beyond the catalog the user can already read
  "version", "current_database", "current_schema", "current_schemas", "pg_typeof", "format_type",
  "pg_backend_pid", "pg_postmaster_start_time", "pg_size_pretty", "pg_get_viewdef", "to_regclass",
  "to_regtype", "obj_description", "col_description", "pg_collation_for",
];

/** Built-ins that administer the server, touch its files or other sessions, or escape the transaction. */
// biome-ignore format: a long list of names reads best packed
const DANGEROUS_BUILTINS = [
  "pg_terminate_backend", "pg_cancel_backend", "pg_signal_backend", "pg_reload_conf", "pg_rotate_logfile",
  "set_config", "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_file_write",
  "pg_file_unlink", "pg_file_rename", "pg_file_sync", "lo_import", "lo_export", "lo_unlink", "lo_from_bytea",
  "lo_put", "lo_create", "lo_creat", "lo_open", "lowrite", "lo_truncate", "lo_truncate64", "lo_close",
  "pg_switch_wal", "pg_switch_xlog", "pg_create_restore_point", "pg_promote", "pg_logical_emit_message",
  "pg_notify", "pg_export_snapshot", "pg_import_system_collations", "pg_log_backend_memory_contexts",
  "pg_start_backup", "pg_stop_backup", "pg_backup_start", "pg_backup_stop", "pg_current_xact_id",
  "pg_sync_replication_slots",
];

/** Prefix or infix families of dangerous built-ins (dblink*, pg_advisory*lock*, pg_sleep*, ...). */
const DANGEROUS_PATTERNS: readonly RegExp[] = [
  /^dblink/,
  /^pg_(try_)?advisory.*lock/,
  /^pg_sleep/,
  /^(query|table|cursor|database|schema)_to_xml/,
  /^pg_replication_origin/,
  /replication_slot/,
  /^pg_logical_slot_/,
  /^pg_ls_/,
  /^pg_stat_reset/,
  /^pg_stat_statements_reset/,
  /^pg_wal_replay_/,
  /^txid_/,
  /^lo_/,
];

/** Volatile built-ins that are not administration but do change state (sequences). */
const KNOWN_VOLATILE_BUILTINS = ["nextval", "setval", "currval", "lastval"];

/**
 * Built-ins that change nothing but reveal server file paths: sql:function, and named pg_catalog.<name> so a
 * policy can permit exactly one (drizzle-kit's view introspection calls pg_tablespace_location).
 */
const KNOWN_PATH_BUILTINS = ["pg_tablespace_location", "pg_relation_filepath", "pg_current_logfile"];

export type FunctionKind = "safe" | "function" | "admin";

export interface FunctionVerdict {
  readonly kind: FunctionKind;
  /** The name to use as the Function resource (see the module comment). */
  readonly resourceName: string;
}

export interface FunctionPolicyOptions {
  /** Extra names (bare "fn" matches in any schema; "schema.fn" only that one) treated as admin functions. */
  readonly dangerousFunctions?: readonly string[];
  /** Extra names treated as safe: bare names only when unqualified or pg_catalog, qualified names exactly. */
  readonly safeFunctions?: readonly string[];
}

export interface FunctionPolicy {
  /** `nameParts` are the parser's (already case-folded) name parts, e.g. ["pg_catalog", "lower"]. */
  judge(nameParts: readonly string[]): FunctionVerdict;
}

export function createFunctionPolicy(options: FunctionPolicyOptions = {}): FunctionPolicy {
  // Catalog readers (catalog-functions.ts) are safe like the built-ins above; the dangerous checks still win.
  const safe = new Set([...SAFE_BUILTINS, ...CATALOG_READ_FUNCTIONS]);
  const dangerous = new Set(DANGEROUS_BUILTINS);
  const known = new Set([...safe, ...DANGEROUS_BUILTINS, ...KNOWN_VOLATILE_BUILTINS, ...KNOWN_PATH_BUILTINS]);
  const extraDangerous = new Set((options.dangerousFunctions ?? []).map((name) => name.toLowerCase()));
  const extraSafe = new Set((options.safeFunctions ?? []).map((name) => name.toLowerCase()));

  function isDangerous(base: string, written: string): boolean {
    return dangerous.has(base) || extraDangerous.has(base) || extraDangerous.has(written);
  }

  return {
    judge(nameParts) {
      const base = nameParts[nameParts.length - 1] ?? "";
      const schema = nameParts.length > 1 ? nameParts[nameParts.length - 2] : undefined;
      const written = nameParts.join(".");
      const builtinSchema = schema === undefined || schema === "pg_catalog";
      const builtinFamily = DANGEROUS_PATTERNS.some((pattern) => pattern.test(base));
      const isBuiltin = schema === "pg_catalog" || known.has(base) || builtinFamily;
      const resourceName = builtinSchema && isBuiltin ? `pg_catalog.${base}` : written;
      // Dangerous wins over safe, and matches the bare name in any schema: an admin-looking name is never
      // waved through because it was qualified.
      if (builtinFamily || isDangerous(base, written)) return { kind: "admin", resourceName };
      if (extraSafe.has(written) || (builtinSchema && (safe.has(base) || extraSafe.has(base)))) {
        return { kind: "safe", resourceName };
      }
      return { kind: "function", resourceName };
    },
  };
}

/**
 * Operators whose built-in implementations are harmless. An operator symbol outside this list can only be
 * user-defined, and a user-defined operator runs an arbitrary function, so it is reported as sql:function.
 * (A user-defined operator that reuses a built-in symbol for new argument types cannot be told apart without
 * the catalog; creating one is sql:ddl, and the upstream credential should not have that right.)
 */
// biome-ignore format: a long list of names reads best packed
export const BUILTIN_OPERATORS: ReadonlySet<string> = new Set([
  "=", "<>", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "^", "|/", "||/", "@", "&", "|", "#", "~",
  "<<", ">>", "||", "~~", "!~~", "~~*", "!~~*", "!~", "~*", "!~*", "^@", "->", "->>", "#>", "#>>", "@>",
  "<@", "?", "?|", "?&", "#-", "@?", "@@", "@@@", "&&", "-|-", "&<", "&>", "<<=", ">>=", "<->", "<<|", "|>>",
  "&<|", "|&>", "?#", "?-", "?-|", "?||", "##", "@-@", "~=", "<^", ">^",
]);
