/**
 * SET in its MySQL forms. Settings that change how the server reads statements (sql_mode: ANSI_QUOTES,
 * NO_BACKSLASH_ESCAPES; the client character set) are refused outright: after them the gateway and the server
 * would read the same text differently. Global settings, replication and audit switches are sql:set_protected.
 */
import { walk } from "./tree-walk.js";
import { isNode, type Node, nameParts, type StatementFacts, type WalkScope } from "./walk-facts.js";

const LEXER_SETTINGS = new Set([
  "sql_mode",
  "character_set_client",
  "character_set_connection",
  "collation_connection",
]);
const SAFE_CHARSETS = new Set(["utf8", "utf8mb4", "utf8mb3", "latin1", "ascii", "binary"]);
const PROTECTED_SETTINGS = new Set([
  "sql_log_bin",
  "sql_log_off",
  "general_log",
  "slow_query_log",
  "foreign_key_checks",
  "unique_checks",
  "sql_safe_updates",
  "init_connect",
  "secure_file_priv",
  "local_infile",
  "pseudo_thread_id",
  "pseudo_slave_mode",
  "gtid_next",
  "gtid_seq_no",
  "server_id",
  "skip_replication",
  "wsrep_on",
  "timestamp",
  "insert_id",
  "last_insert_id",
  "session_track_system_variables",
]);

export function handleSet(fields: Node, scope: WalkScope, facts: StatementFacts): string {
  if (isNode(fields.SetRole)) return "sql:set_role";
  if (isNode(fields.SetNames)) {
    const charset = isNode(fields.SetNames.charset_name) ? fields.SetNames.charset_name.value : undefined;
    if (typeof charset !== "string" || !SAFE_CHARSETS.has(charset.toLowerCase()))
      facts.refuse(
        "SET NAMES with a character set other than utf8mb4/utf8/latin1 changes how statements are read",
      );
    return "sql:set";
  }
  if (isNode(fields.SetTransaction) || fields.SetTransaction !== undefined) return "sql:session";
  const assignments: { name: unknown; value: unknown; scope?: unknown }[] = [];
  if (isNode(fields.SingleAssignment)) {
    const single = fields.SingleAssignment;
    assignments.push({ name: single.variable, value: single.values, scope: single.scope });
  } else if (isNode(fields.MultipleAssignments) && Array.isArray(fields.MultipleAssignments.assignments)) {
    for (const a of fields.MultipleAssignments.assignments)
      if (isNode(a)) assignments.push({ name: a.name, value: a.value, scope: a.scope });
  } else {
    facts.refuse(`a SET form Latch does not know (${Object.keys(fields).join(", ")})`);
    return "sql:set";
  }
  let verb = "sql:set";
  for (const assignment of assignments) {
    walk(assignment.value, scope, facts);
    const parts = nameParts(assignment.name)?.map((p) => p.toLowerCase());
    if (parts === undefined || parts.length === 0) {
      facts.refuse("a SET target Latch cannot resolve");
      continue;
    }
    if (parts.length === 1 && parts[0]!.startsWith("@") && !parts[0]!.startsWith("@@")) continue; // user variable
    const global =
      assignment.scope === "Global" ||
      parts[0] === "@@global" ||
      parts[0] === "global" ||
      parts[0] === "@@persist";
    const name = parts[parts.length - 1]!.replace(/^@@/, "");
    if (name === "password") {
      verb = "sql:grant";
      continue;
    }
    if (LEXER_SETTINGS.has(name)) {
      facts.refuse(
        `SET ${name} changes how the server reads statements; set it in the connection's upstream instead`,
      );
      continue;
    }
    if (global || PROTECTED_SETTINGS.has(name)) {
      facts.add("sql:set_protected", { type: "Connection" });
      verb = verb === "sql:set" ? "sql:set_protected" : verb;
    }
  }
  return verb;
}
