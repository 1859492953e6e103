import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { Access } from "../../operation/operation.js";
import { couldDo, type ToolContext } from "./tool-context.js";

const connection = { type: "string", description: "connection name (list_connections)" } as const;

/**
 * The built-in tools a caller may see: a tool is listed only when policy could allow it on at least one
 * connection. Hints are Latch's own, never an upstream's: a tool that only reads says so; sql_query runs
 * whatever its classification and policy allow, so it is never hinted read-only.
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
      // Policy may permit writes on single tables, which a preview on the connection cannot see: the hints
      // claim read-only only when it is proven, and it never is for arbitrary SQL. Each call is classified.
      annotations: {
        readOnlyHint: false,
        destructiveHint: true,
        idempotentHint: false,
        openWorldHint: false,
      },
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
  if (context.http !== undefined && context.http.connections().length > 0)
    tools.push({
      name: "http_request",
      description: `Send an HTTP request through an HTTP connection (${context.http.connections().join(", ")}).`,
      inputSchema: {
        type: "object",
        properties: {
          connection,
          method: { type: "string" },
          path: { type: "string" },
          body: { type: "string" },
        },
        required: ["connection", "method", "path"],
      },
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
    });
  return tools;
}

export function access(action: string, resource: Access["resource"] = { type: "Connection" }): Access {
  return { action, resource };
}
