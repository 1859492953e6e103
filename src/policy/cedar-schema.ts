import { ACTION_GROUPS, ACTIONS, type ActionFamily } from "./policy-actions.js";

/**
 * The Cedar schema every policy is validated against (Cedar schema syntax). Records in a Cedar schema have
 * fixed attributes, so the context built per request (build-context.ts) must match these shapes exactly;
 * a test checks that with Cedar's own request validation.
 */

/** Fields of `context.time`, all UTC. The decision cache keys only on the ones policies mention. */
export const TIME_FIELDS = ["hour", "minute", "weekday", "date"] as const;
export type TimeField = (typeof TIME_FIELDS)[number];

const ENTITY_TYPES = `
// A caller; its groups (from the token's groups claim) are its parents.
entity Group;
entity User in [Group] {
  issuer: String,
};

// A configured connection; labels are "key=value" strings from latch.yaml.
entity Connection {
  labels: Set<String>,
};
// "<connection>/<schema.table>", e.g. Table::"analytics/public.users".
// sensitivity: "none", "low", "medium" or "high" from connections.<name>.sensitivity and masking rules.
entity Table in [Connection] {
  sensitivity: String,
};
// "<connection>/<schema.function>", e.g. Function::"analytics/pg_catalog.pg_sleep".
entity Function in [Connection];
// "<connection>/<tool>", e.g. Tool::"github/create_issue": a tool of an MCP proxy connection.
entity Tool in [Connection];

// All UTC. weekday: 1 = Monday .. 7 = Sunday. date: "YYYY-MM-DD".
type Time = {
  hour: Long,
  minute: Long,
  weekday: Long,
  date: String,
};

// Facts about the statement the access belongs to.
type Statement = {
  verb: String,
  has_where: Bool,
  read_only: Bool,
  statement_count: Long,
  table_count: Long,
  sensitivity: String,
  touches_masked: Bool,
};

// What the rolled-back preview of a write found (only present when one ran: test with context has preview).
// rows: rows the statement changed (docs/approvals.md, "Preview, then commit").
type Preview = {
  rows: Long,
};

// Name -> value pairs of an HTTP request (query parameters, selected headers, JSON body values), as tags:
// context.query.hasTag("limit") && context.query.getTag("limit") == "10".
entity HttpFields tags String;

// kind: "none", "json" (inspected) or "other" (not inspected); keys: top-level keys of a JSON object body.
type HttpBody = {
  kind: String,
  keys: Set<String>,
  values: HttpFields,
};

// command: the SSH command line (ssh:exec), subsystem name, forward destination or "NAME=value" (ssh:env);
// always "" for SQL statements. path, query, headers, body: the HTTP request ("" and empty elsewhere). One
// context type serves every family so a policy reads the same fields.
// local_time: the same fields in policy.time_zone (daylight saving applied); equal to time when none is set.
type SqlContext = {
  time: Time,
  local_time: Time,
  statement: Statement,
  client_ip: ipaddr,
  connection_labels: Set<String>,
  actors: Set<String>,
  command: String,
  path: String,
  query: HttpFields,
  headers: HttpFields,
  body: HttpBody,
  preview?: Preview,
};
`;

const FAMILY_APPLIES_TO: Record<ActionFamily, string> = {
  sql: "appliesTo { principal: [User], resource: [Connection, Table, Function], context: SqlContext }",
  // SSH resources are always the Connection; Table and Function are accepted so one request shape (and the
  // schema-conformance test) serves every family.
  ssh: "appliesTo { principal: [User], resource: [Connection, Table, Function], context: SqlContext }",
  http: "appliesTo { principal: [User], resource: [Connection, Table, Function], context: SqlContext }",
  // MCP proxy resources are Tools (and the Connection); Table and Function as for SSH and HTTP.
  mcp: "appliesTo { principal: [User], resource: [Connection, Table, Function, Tool], context: SqlContext }",
};

function actionDeclarations(): string {
  const groups = Object.keys(ACTION_GROUPS).map((group) => `action "${group}";`);
  const actions = Object.entries(ACTIONS).map(([id, spec]) => {
    const memberOf = spec.group === null ? "" : ` in ["${spec.group}"]`;
    return `action "${id}"${memberOf} ${FAMILY_APPLIES_TO[spec.family]};`;
  });
  return [...groups, ...actions].join("\n");
}

export const CEDAR_SCHEMA_TEXT = `${ENTITY_TYPES}\n${actionDeclarations()}\n`;
