import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { ToolContext } from "./tool-context.js";

/**
 * Tool annotations from Latch's own classification and the caller's policy, never from an upstream. A tool is
 * hinted read-only only when policy proves it (PolicyReach: no permit could ever apply to a non-read action
 * of that tool on any of the caller's connections, conditions taken as possibly true); destructive when a
 * destructive action could be permitted. Without a PolicyReach (unit contexts) nothing is claimed read-only.
 */

/** SQL actions that change rows (additive or not), and those of them that destroy or rewrite. */
const SQL_WRITES = ["sql:insert", "sql:copy_from", "sql:update", "sql:delete", "sql:merge", "sql:truncate"];
const SQL_ADMIN = [
  "sql:ddl",
  "sql:grant",
  "sql:maintenance",
  "sql:set_role",
  "sql:set_protected",
  "sql:admin_function",
  "sql:copy_file",
  "sql:copy_program",
  "sql:do",
  "sql:call",
  "sql:lock",
  "sql:use",
  "sql:unknown",
];
const SQL_ADDITIVE = new Set(["sql:insert", "sql:copy_from"]);
const HTTP_WRITES = ["http:POST", "http:PUT", "http:PATCH", "http:DELETE", "http:websocket"];
const HTTP_DESTRUCTIVE = ["http:PUT", "http:PATCH", "http:DELETE"];

/** What Latch's classification makes of one tool: which actions change things, which of those destroy. */
export interface ToolActionClasses {
  readonly changing: readonly string[];
  readonly destructive: readonly string[];
}

export const SQL_QUERY_CLASSES: ToolActionClasses = {
  changing: [...SQL_WRITES, ...SQL_ADMIN],
  destructive: [...SQL_WRITES, ...SQL_ADMIN].filter((action) => !SQL_ADDITIVE.has(action)),
};
export const HTTP_REQUEST_CLASSES: ToolActionClasses = {
  changing: HTTP_WRITES,
  destructive: HTTP_DESTRUCTIVE,
};

export function hintsFor(
  context: Pick<ToolContext, "reach" | "session">,
  connections: readonly string[],
  classes: ToolActionClasses,
): ToolAnnotations {
  const could = (actions: readonly string[]) =>
    context.reach === undefined ||
    connections.some((connection) =>
      context.reach!({ identity: context.session.identity, connection, actions }),
    );
  const changes = could(classes.changing);
  const destroys = changes && could(classes.destructive);
  return {
    readOnlyHint: !changes,
    destructiveHint: destroys,
    idempotentHint: !changes,
    openWorldHint: false,
  };
}

/** A command line can do anything the remote account can: SSH classifies no exec as read-only. */
export const SSH_EXEC_HINTS: ToolAnnotations = {
  readOnlyHint: false,
  destructiveHint: true,
  idempotentHint: false,
  openWorldHint: false,
};
