import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { Access } from "../../operation/operation.js";
import { couldDo, type ToolContext } from "./tool-context.js";
import { HTTP_REQUEST_CLASSES, hintsFor, SQL_QUERY_CLASSES, SSH_EXEC_HINTS } from "./tool-hints.js";

const connection = { type: "string", description: "connection name (list_connections)" } as const;

/**
 * The built-in tools a caller may see: a tool is listed only when policy could allow it on at least one
 * connection. Hints are Latch's own, never an upstream's (tool-hints.ts): read-only only when policy proves
 * the caller can never be allowed a change through that tool.
 */
export function listBuiltInTools(context: ToolContext): Tool[] {
  const identity = context.session.identity;
  const postgres = Object.entries(context.config.connections).filter(([, c]) => c.type === "postgres");
  const could = (name: string, action: string, readOnly: boolean) =>
    couldDo(context, identity, name, [access(action)], readOnly) !== "deny";
  const readable = postgres.filter(([name]) => could(name, "sql:select", true));
  const tools: Tool[] = [
    {
      name: "list_connections",
      description: "Connections of this gateway that you may use, with their type and labels.",
      inputSchema: { type: "object", properties: {} },
      annotations: { readOnlyHint: true, destructiveHint: false, openWorldHint: false },
    },
    {
      name: "describe_connection",
      description: "What you may do on one connection, and which columns are masked.",
      inputSchema: { type: "object", properties: { connection }, required: ["connection"] },
      annotations: { readOnlyHint: true, destructiveHint: false, openWorldHint: false },
    },
    {
      name: "access_status",
      description: "State of an approval request you made (pending, approved, denied, expired).",
      inputSchema: {
        type: "object",
        properties: { request_id: { type: "string" } },
        required: ["request_id"],
      },
      annotations: { readOnlyHint: true, destructiveHint: false, openWorldHint: false },
    },
  ];
  if (readable.length > 0) {
    tools.push({
      name: "sql_query",
      description: `Run SQL on a PostgreSQL connection (${readable.map(([name]) => name).join(", ")}). Judged by Latch policy like psql; results are capped at ${context.config.mcp.max_rows} rows and masked. A statement that needs approval returns pending_approval: call again with the same arguments once approved.`,
      inputSchema: {
        type: "object",
        properties: {
          connection,
          sql: {
            type: "string",
            description: "one or more statements; with params exactly one ($1, $2, ...)",
          },
          params: {
            type: "array",
            items: { type: ["string", "null"] },
            description: "values for $1, $2, ...",
          },
        },
        required: ["connection", "sql"],
      },
      annotations: hintsFor(
        context,
        readable.map(([name]) => name),
        SQL_QUERY_CLASSES,
      ),
    });
  }
  if (postgres.length > 0 && context.desk !== undefined)
    tools.push({
      name: "request_access",
      description:
        'Ask approvers up front for access you will need (e.g. actions ["sql:update"] on resources ["public.orders"]); an approval becomes a grant for a while.',
      inputSchema: {
        type: "object",
        properties: {
          connection,
          actions: { type: "array", items: { type: "string" }, minItems: 1 },
          resources: { type: "array", items: { type: "string" }, description: 'tables, or "Connection"' },
          reason: { type: "string" },
          for: { type: "string", description: "grant window, e.g. 30m" },
        },
        required: ["connection", "actions", "reason"],
      },
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    });
  const ssh = reachable(context, context.ssh?.connections() ?? [], ["ssh:exec"]);
  if (ssh.length > 0)
    tools.push({
      name: "ssh_exec",
      description: `Run one command on an SSH connection (${ssh.join(", ")}), judged by Latch policy as \`ssh host 'command'\` is (action ssh:exec, context.command); stdin is closed, output is masked and capped at ${context.config.mcp.max_output_bytes} bytes per stream, the exit code is returned. A command that needs approval returns pending_approval: call again with the same arguments once approved.`,
      inputSchema: {
        type: "object",
        properties: { connection, command: { type: "string", description: "the command line" } },
        required: ["connection", "command"],
      },
      annotations: SSH_EXEC_HINTS,
    });
  const http = reachable(
    context,
    context.http?.connections() ?? [],
    HTTP_METHODS.map((method) => `http:${method}`),
  );
  if (http.length > 0)
    tools.push({
      name: "http_request",
      description: `Send an HTTP request through an HTTP connection (${http.join(", ")}), judged by Latch policy as a direct call is (action http:<METHOD>, path, query, body); the connection's credential is added by Latch, the response is masked and capped at ${context.config.mcp.max_output_bytes} bytes. A body that parses as JSON is sent as application/json.`,
      inputSchema: {
        type: "object",
        properties: {
          connection,
          method: { type: "string", enum: HTTP_METHODS },
          path: { type: "string", description: "path under the connection, with an optional ?query" },
          body: { type: "string" },
        },
        required: ["connection", "method", "path"],
      },
      annotations: hintsFor(context, http, HTTP_REQUEST_CLASSES),
    });
  return tools;
}

export const HTTP_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];

/**
 * Connections of a tool the caller could use: the preview allows or holds one of the actions, or (a permit
 * whose condition needs the request's facts, which a preview has not) policy reaches it.
 */
export function reachable(
  context: ToolContext,
  names: readonly string[],
  actions: readonly string[],
): string[] {
  const identity = context.session.identity;
  return names.filter(
    (name) =>
      actions.some((action) => couldDo(context, identity, name, [access(action)], false) !== "deny") ||
      context.reach?.({ identity, connection: name, actions }) === true,
  );
}

/**
 * Whether the caller is offered `name` now: what listBuiltInTools decides for that one tool, without building
 * descriptions and hints (every call asks this).
 */
export function offersTool(context: ToolContext, name: string): boolean {
  const identity = context.session.identity;
  const postgres = () => Object.entries(context.config.connections).filter(([, c]) => c.type === "postgres");
  switch (name) {
    case "list_connections":
    case "describe_connection":
    case "access_status":
      return true;
    case "sql_query":
      return postgres().some(
        ([connection]) => couldDo(context, identity, connection, [access("sql:select")], true) !== "deny",
      );
    case "request_access":
      return postgres().length > 0 && context.desk !== undefined;
    case "ssh_exec":
      return reachable(context, context.ssh?.connections() ?? [], ["ssh:exec"]).length > 0;
    case "http_request":
      return (
        reachable(
          context,
          context.http?.connections() ?? [],
          HTTP_METHODS.map((method) => `http:${method}`),
        ).length > 0
      );
    default:
      return false;
  }
}

export function access(action: string, resource: Access["resource"] = { type: "Connection" }): Access {
  return { action, resource };
}
