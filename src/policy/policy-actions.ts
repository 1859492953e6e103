/**
 * The policy vocabulary of actions: every action a classifier may emit, the group it belongs to (so a policy
 * can say `action in Action::"sql:write"`), and the family that fixes its principal, resource and context
 * types in the Cedar schema. This is the one list; the schema, the engine and the docs are built from it.
 * SSH and HTTP actions join as new families ("ssh", "http") with their own resource and context types.
 */

export const ACTION_GROUPS = {
  "sql:read": "statements that only read data: SELECT, COPY ... TO STDOUT, EXPLAIN",
  "sql:write": "statements that change rows: INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY ... FROM STDIN",
  "sql:admin": "schema, role, server-side file/program and procedural statements",
  "ssh:forwarding": "SSH port and agent forwarding: tunnels that carry traffic Latch cannot inspect",
  "http:read": "HTTP requests that should not change anything: GET, HEAD, OPTIONS",
  "http:write": "HTTP requests that may change something: POST, PUT, PATCH, DELETE",
} as const;

export type ActionGroup = keyof typeof ACTION_GROUPS;

export type ActionFamily = "sql" | "ssh" | "http" | "mcp";

interface ActionSpec {
  readonly family: ActionFamily;
  /** Action group this action is a member of, or null for standalone actions. */
  readonly group: ActionGroup | null;
  readonly description: string;
}

export const ACTIONS = {
  "sql:select": { family: "sql", group: "sql:read", description: "SELECT, including tables read by writes" },
  "sql:copy_to": { family: "sql", group: "sql:read", description: "COPY ... TO STDOUT" },
  "sql:explain": { family: "sql", group: "sql:read", description: "EXPLAIN without ANALYZE" },
  "sql:insert": { family: "sql", group: "sql:write", description: "INSERT" },
  "sql:update": { family: "sql", group: "sql:write", description: "UPDATE" },
  "sql:delete": { family: "sql", group: "sql:write", description: "DELETE" },
  "sql:merge": { family: "sql", group: "sql:write", description: "MERGE" },
  "sql:truncate": { family: "sql", group: "sql:write", description: "TRUNCATE" },
  "sql:copy_from": { family: "sql", group: "sql:write", description: "COPY ... FROM STDIN" },
  "sql:ddl": { family: "sql", group: "sql:admin", description: "CREATE, ALTER, DROP, COMMENT ..." },
  "sql:grant": { family: "sql", group: "sql:admin", description: "GRANT, REVOKE, role management" },
  "sql:maintenance": {
    family: "sql",
    group: "sql:admin",
    description: "VACUUM, ANALYZE, REINDEX, CLUSTER ...",
  },
  "sql:set_role": { family: "sql", group: "sql:admin", description: "SET ROLE, SET SESSION AUTHORIZATION" },
  "sql:set_protected": {
    family: "sql",
    group: "sql:admin",
    description: "SET of a security-relevant setting (search_path, ...)",
  },
  "sql:admin_function": {
    family: "sql",
    group: "sql:admin",
    description: "call of a dangerous server function (pg_terminate_backend, ...)",
  },
  "sql:copy_file": { family: "sql", group: "sql:admin", description: "COPY to or from a server file" },
  "sql:copy_program": { family: "sql", group: "sql:admin", description: "COPY to or from a server program" },
  "sql:do": { family: "sql", group: "sql:admin", description: "DO blocks (anonymous procedural code)" },
  "sql:call": { family: "sql", group: "sql:admin", description: "CALL of a procedure" },
  "sql:lock": { family: "sql", group: "sql:admin", description: "LOCK TABLE" },
  "sql:session": {
    family: "sql",
    group: null,
    description: "transaction control and harmless session statements (BEGIN, COMMIT, SHOW, ...)",
  },
  "sql:set": { family: "sql", group: null, description: "SET / RESET of a harmless setting" },
  "sql:use": {
    family: "sql",
    group: "sql:admin",
    description: "MySQL USE / COM_INIT_DB of a database other than the connection's own",
  },
  "sql:notify": { family: "sql", group: null, description: "LISTEN, NOTIFY, UNLISTEN" },
  "sql:prepare": {
    family: "sql",
    group: null,
    description: "SQL-level PREPARE (the inner statement is checked too)",
  },
  "sql:execute": { family: "sql", group: null, description: "SQL-level EXECUTE of a prepared statement" },
  "sql:function": {
    family: "sql",
    group: null,
    description: "call of a function the classifier does not know as harmless (resource: the Function)",
  },
  "ssh:exec": {
    family: "ssh",
    group: null,
    description: "SSH exec request; context.command is the command line",
  },
  "ssh:shell": {
    family: "ssh",
    group: null,
    description: "interactive SSH shell (commands typed in it are not checked)",
  },
  "ssh:sftp": { family: "ssh", group: null, description: "the sftp subsystem (file transfer)" },
  "ssh:subsystem": {
    family: "ssh",
    group: null,
    description: "any other SSH subsystem; context.command is its name",
  },
  "ssh:port_forward": {
    family: "ssh",
    group: "ssh:forwarding",
    description: 'local port forwarding (ssh -L); context.command is "host:port" of the destination',
  },
  "ssh:agent_forward": {
    family: "ssh",
    group: "ssh:forwarding",
    description: "SSH agent forwarding (ssh -A)",
  },
  "ssh:env": { family: "ssh", group: null, description: 'SSH env request; context.command is "NAME=value"' },
  "http:GET": { family: "http", group: "http:read", description: "HTTP GET; context.path, query, headers" },
  "http:HEAD": { family: "http", group: "http:read", description: "HTTP HEAD" },
  "http:OPTIONS": { family: "http", group: "http:read", description: "HTTP OPTIONS" },
  "http:POST": { family: "http", group: "http:write", description: "HTTP POST; context.body for JSON" },
  "http:PUT": { family: "http", group: "http:write", description: "HTTP PUT" },
  "http:PATCH": { family: "http", group: "http:write", description: "HTTP PATCH" },
  "http:DELETE": { family: "http", group: "http:write", description: "HTTP DELETE" },
  "http:websocket": {
    family: "http",
    group: null,
    description: "a WebSocket upgrade (GET with Upgrade: websocket); its frames are not inspected",
  },
  "mcp:call_tool": {
    family: "mcp",
    group: null,
    description:
      'a tool of an MCP proxy connection (resource Tool::"<connection>/<tool>"); context.body holds its arguments',
  },
} as const satisfies Record<string, ActionSpec>;

export type ActionId = keyof typeof ACTIONS;

export function isKnownAction(action: string): action is ActionId {
  return Object.hasOwn(ACTIONS, action);
}
