/**
 * Which action a change of a setting is. SET/RESET statements and the set_config() function are the same change
 * written two ways, so they share one rule; pg_dump opens every dump (and every restore script) with
 * `SELECT pg_catalog.set_config('search_path', '', false)`, which must be what `SET search_path = ''` is.
 *
 * A search_path that names nothing but pg_catalog only narrows name resolution to what the classifier already
 * assumes comes first (pg_catalog, and pg_temp for relations, which PostgreSQL searches first either way), so it
 * is a plain sql:set; any other search_path stays protected. Deciding that looks at constant values, which the
 * normalized-text cache must then not reuse for other literals: callers mark the statement (`readsConstants`).
 */
import { PROTECTED_SETTINGS, ROLE_SETTINGS, SqlAction } from "./statement-verbs.js";
import { fieldsOf, listOf, type NodeFields, nameParts, stringOf } from "./walk-facts.js";

export function settingChangeAction(kind: string, name: string, searchPath?: readonly string[]): string {
  // RESET ALL also resets the role and session authorization.
  if (kind === "VAR_RESET_ALL") return SqlAction.setRole;
  if (kind === "VAR_SET_MULTI") {
    // SET TRANSACTION ... is plain session control; SET SESSION CHARACTERISTICS changes the session's
    // default_transaction_read_only/isolation; any other multi-form is unknown to us: protected.
    return name === "transaction" ? SqlAction.session : SqlAction.setProtected;
  }
  if (ROLE_SETTINGS.has(name)) return SqlAction.setRole;
  if (
    name === "search_path" &&
    kind === "VAR_SET_VALUE" &&
    searchPath !== undefined &&
    onlyCatalog(searchPath)
  )
    return SqlAction.set;
  if (PROTECTED_SETTINGS.has(name)) return SqlAction.setProtected;
  return SqlAction.set;
}

/** True when every element of the search_path values is empty or pg_catalog (as written unquoted or quoted). */
function onlyCatalog(values: readonly string[]): boolean {
  return values.every((value) =>
    value.split(",").every((element) => {
      const trimmed = element.trim();
      return trimmed === "" || trimmed === '"pg_catalog"' || trimmed.toLowerCase() === "pg_catalog";
    }),
  );
}

/** The string constants of a SET statement's value list; undefined when any value is not a string constant. */
export function setStatementValues(args: unknown): string[] | undefined {
  const values: string[] = [];
  for (const arg of listOf(args)) {
    const value = stringConstant(arg);
    if (value === undefined) return undefined;
    values.push(value);
  }
  return values;
}

export interface SetConfigCall {
  readonly name: string;
  readonly value: string;
}

/**
 * `set_config('<name>', '<value>', <bool>)` with constant arguments, unqualified or pg_catalog-qualified (an
 * unqualified name is always pg_catalog's: it is searched first). Anything else (a computed name or value, a
 * set_config of another schema) is undefined and stays an administrative function call.
 */
export function setConfigCall(fields: NodeFields): SetConfigCall | undefined {
  const parts = nameParts(fields.funcname);
  const schema = parts.length === 2 ? parts[0] : undefined;
  if (parts[parts.length - 1] !== "set_config" || parts.length > 2) return undefined;
  if (schema !== undefined && schema !== "pg_catalog") return undefined;
  if (fields.agg_star === true || fields.over !== undefined || fields.agg_filter !== undefined)
    return undefined;
  const args = listOf(fields.args);
  if (args.length !== 3) return undefined;
  const name = stringConstant(args[0]);
  const value = stringConstant(args[1]);
  const isLocal = fieldsOf(fieldsOf(args[2])?.A_Const);
  if (name === undefined || value === undefined || isLocal?.boolval === undefined) return undefined;
  return { name: name.toLowerCase(), value };
}

function stringConstant(node: unknown): string | undefined {
  const constant = fieldsOf(fieldsOf(node)?.A_Const);
  return stringOf(fieldsOf(constant?.sval)?.sval);
}

/**
 * pg_dump's way of setting a parameter the server may not have (since 15.8 / 16.4 / 17.0):
 * `SELECT set_config(name, '<value>', <bool>) FROM pg_settings WHERE name = '<setting>'`. The WHERE pins the
 * row's name to the constant whatever relation `pg_settings` resolves to, so this is set_config('<setting>', ...)
 * or nothing at all. Only exactly this shape is recognised; any other statement is classified as written.
 */
export function pgSettingsSetConfig(fields: NodeFields): SetConfigCall | undefined {
  const allowed = new Set(["targetList", "fromClause", "whereClause", "limitOption", "op"]);
  if (Object.keys(fields).some((key) => !allowed.has(key)) || fields.op !== "SETOP_NONE") return undefined;
  const targets = listOf(fields.targetList);
  const from = listOf(fields.fromClause);
  if (targets.length !== 1 || from.length !== 1) return undefined;
  const range = fieldsOf(fieldsOf(from[0])?.RangeVar);
  if (
    range?.relname !== "pg_settings" ||
    (range.schemaname !== undefined && range.schemaname !== "pg_catalog")
  )
    return undefined;
  if (range.alias !== undefined) return undefined;
  const call = fieldsOf(fieldsOf(fieldsOf(fieldsOf(targets[0])?.ResTarget)?.val)?.FuncCall);
  if (call === undefined || !isSetConfigName(call) || hasCallDecorations(call)) return undefined;
  const args = listOf(call.args);
  if (args.length !== 3 || !isColumn(args[0], "name")) return undefined;
  const value = stringConstant(args[1]);
  if (value === undefined || fieldsOf(fieldsOf(args[2])?.A_Const)?.boolval === undefined) return undefined;
  const where = fieldsOf(fieldsOf(fields.whereClause)?.A_Expr);
  if (where?.kind !== "AEXPR_OP" || nameParts(where.name).join(".") !== "=") return undefined;
  const name = isColumn(where.lexpr, "name") ? stringConstant(where.rexpr) : undefined;
  if (name === undefined) return undefined;
  return { name: name.toLowerCase(), value };
}

function isSetConfigName(call: NodeFields): boolean {
  const parts = nameParts(call.funcname);
  return (
    (parts.length === 1 && parts[0] === "set_config") ||
    (parts.length === 2 && parts[0] === "pg_catalog" && parts[1] === "set_config")
  );
}

function hasCallDecorations(call: NodeFields): boolean {
  return call.agg_star === true || call.over !== undefined || call.agg_filter !== undefined;
}

function isColumn(node: unknown, column: string): boolean {
  const ref = fieldsOf(fieldsOf(node)?.ColumnRef);
  const parts = nameParts(ref?.fields);
  return parts.length === 1 && parts[0] === column && listOf(ref?.fields).length === 1;
}
