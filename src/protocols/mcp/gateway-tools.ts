import { randomUUID } from "node:crypto";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { asLatchError, LatchError } from "../../errors.js";
import { parseDuration } from "../../identity/parse-duration.js";
import { compileMaskingProfiles } from "../../masking/masking-profile.js";
import type { Access } from "../../operation/operation.js";
import { argumentsHash } from "./arguments-hash.js";
import { access, HTTP_METHODS, reachable } from "./tool-catalog.js";
import { couldDo, type ToolContext } from "./tool-context.js";
import { toolError, toolResult } from "./tool-results.js";

const PROBED_ACTIONS = ["sql:select", "sql:insert", "sql:update", "sql:delete", "sql:ddl"] as const;

/**
 * The tools the gateway answers itself, from config and policy only (no upstream is touched): they are
 * recorded as operations of the session with the verdict "answered by the gateway".
 */
export function listConnections(context: ToolContext): CallToolResult {
  const identity = context.session.identity;
  const connections = Object.entries(context.config.connections)
    .filter(
      ([name, c]) =>
        c.type === "postgres" && couldDo(context, identity, name, [access("sql:select")], true) !== "deny",
    )
    .map(([name, c]) => ({ name, type: c.type, labels: c.labels }));
  for (const [type, names, actions] of remoteConnections(context))
    for (const name of reachable(context, names, actions))
      connections.push({ name, type, labels: context.config.connections[name]?.labels ?? {} });
  record(context, "list_connections", {});
  return toolResult({ connections });
}

export async function describeConnection(
  context: ToolContext,
  args: { connection: string },
): Promise<CallToolResult> {
  const identity = context.session.identity;
  const found = Object.hasOwn(context.config.connections, args.connection)
    ? context.config.connections[args.connection]
    : undefined;
  const hidden =
    found?.type !== "postgres" ||
    couldDo(context, identity, args.connection, [access("sql:select")], true) === "deny";
  record(context, "describe_connection", args);
  const remote = remoteConnections(context).find(([, names]) => names.includes(args.connection));
  if (remote !== undefined && found !== undefined) {
    const [type, , actions] = remote;
    if (reachable(context, [args.connection], actions).length === 0)
      return toolError(new LatchError("connection_unknown", { name: args.connection.slice(0, 63) }));
    return toolResult({
      name: args.connection,
      type,
      labels: found.labels,
      // What the preview says for a request without facts; permits conditioned on the command, path or body
      // are decided per call.
      actions: Object.fromEntries(
        actions.map((action) => [
          action,
          couldDo(context, identity, args.connection, [access(action)], action === "http:GET"),
        ]),
      ),
      tool: type === "ssh" ? "ssh_exec" : "http_request",
      maxOutputBytes: context.config.mcp.max_output_bytes,
    });
  }
  // A connection the caller may not use is described exactly like one that does not exist.
  if (hidden) return toolError(new LatchError("connection_unknown", { name: args.connection.slice(0, 63) }));
  const actions = Object.fromEntries(
    PROBED_ACTIONS.map((action) => [
      action,
      couldDo(context, identity, args.connection, [access(action)], action === "sql:select"),
    ]),
  );
  const profile = compileMaskingProfiles(found.masking, context.config.masking);
  let tables: { table: string; columns: { name: string; masked: boolean }[] }[];
  try {
    tables = await readableTables(context, args.connection, profile.columns);
  } catch (error) {
    return toolError(asLatchError(error, context.session.id));
  }
  return toolResult({
    name: args.connection,
    type: found.type,
    labels: found.labels,
    actions,
    tables,
    maskedColumns: [...profile.columns.keys()],
    contentDetectors: profile.detectors.map((entry) => entry.detector.name),
    maxRows: context.config.mcp.max_rows,
  });
}

export async function accessStatus(
  context: ToolContext,
  args: { request_id: string },
): Promise<CallToolResult> {
  record(context, "access_status", args);
  if (context.desk === undefined)
    return toolError({ code: "approval_unavailable", message: "approvals are not enabled on this gateway" });
  const status = await context.desk.status(args.request_id, context.session.identity);
  if (status === undefined)
    return toolError({ code: "request_not_found", message: `no request ${args.request_id} of yours` });
  return toolResult({ ...status, expiresAt: new Date(status.expiresAt).toISOString() });
}

export async function requestAccess(
  context: ToolContext,
  args: { connection: string; actions: string[]; resources?: string[]; reason: string; for?: string },
): Promise<CallToolResult> {
  record(context, "request_access", args);
  if (context.desk === undefined)
    return toolError({ code: "approval_unavailable", message: "approvals are not enabled on this gateway" });
  const resources =
    args.resources === undefined || args.resources.length === 0 ? ["Connection"] : args.resources;
  const accesses: Access[] = [];
  for (const action of args.actions)
    for (const resource of resources) {
      const parsed = parseResourceName(resource);
      if (parsed === undefined)
        return toolError(
          new LatchError("tool_arguments_invalid", {
            name: "request_access",
            reason: `resource "${resource}" is not a table or "Connection"`,
          }),
        );
      accesses.push({ action, resource: parsed });
    }
  try {
    const status = await context.desk.requestAccess({
      identity: context.session.identity,
      connection: args.connection,
      accesses,
      reason: args.reason,
      ...(args.for === undefined ? {} : { forMs: parseDuration(args.for) }),
      clientAddress: context.session.clientAddress,
    });
    return toolResult({ ...status, expiresAt: new Date(status.expiresAt).toISOString() });
  } catch (error) {
    return toolError({ code: "request_refused", message: (error as Error).message });
  }
}

const CATALOG_SQL =
  "SELECT table_schema, table_name, column_name FROM information_schema.columns " +
  "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_toast%' " +
  "ORDER BY table_schema, table_name, ordinal_position LIMIT 5000";
const MAX_TABLES = 200;

/**
 * Tables the caller could SELECT from (policy asked per table), with their columns and which are masked: read
 * from the upstream's own catalog with the session's injected credential, so it lists what that role can see.
 */
async function readableTables(
  context: ToolContext,
  connection: string,
  masked: ReadonlyMap<string, unknown>,
): Promise<{ table: string; columns: { name: string; masked: boolean }[] }[]> {
  const upstream = await context.sqlUpstream(connection);
  const catalog = await upstream.catalog(CATALOG_SQL, []);
  const byTable = new Map<string, { name: string; masked: boolean }[]>();
  for (const row of catalog.rows) {
    const table = `${row.table_schema}.${row.table_name}`.toLowerCase();
    const column = String(row.column_name);
    const columns = byTable.get(table) ?? [];
    columns.push({ name: column, masked: masked.has(`${table}.${column.toLowerCase()}`) });
    byTable.set(table, columns);
  }
  const identity = context.session.identity;
  const tables: { table: string; columns: { name: string; masked: boolean }[] }[] = [];
  for (const [table, columns] of byTable) {
    if (tables.length === MAX_TABLES) break;
    const could = couldDo(
      context,
      identity,
      connection,
      [access("sql:select", { type: "Table", name: table })],
      true,
    );
    if (could !== "deny") tables.push({ table, columns });
  }
  return tables;
}

/** `orders`, `public.orders` or `Connection`, folded as PostgreSQL folds unquoted names. */
function parseResourceName(text: string): Access["resource"] | undefined {
  const trimmed = text.trim();
  if (trimmed === "Connection") return { type: "Connection" };
  if (!/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/.test(trimmed)) return undefined;
  const name = trimmed.toLowerCase();
  return { type: "Table", name: name.includes(".") ? name : `public.${name}` };
}

/** SSH and HTTP connections the tools reach, with the actions that make them usable. */
function remoteConnections(context: ToolContext): ["ssh" | "http", readonly string[], string[]][] {
  return [
    ["ssh", context.ssh?.connections() ?? [], ["ssh:exec"]],
    ["http", context.http?.connections() ?? [], HTTP_METHODS.map((method) => `http:${method}`)],
  ];
}

function record(context: ToolContext, tool: string, args: unknown): void {
  context.session.touch();
  context.pipeline.record({
    kind: "operation",
    sessionId: context.session.id,
    data: {
      operationId: randomUUID(),
      mode: tool,
      statements: [{ text: tool, verb: `mcp:${tool}`, tool, argumentsHash: argumentsHash(tool, args) }],
      verdict: { decision: "allow", rules: [], reason: "answered by the gateway from config and policy" },
    },
  });
}
