/**
 * The one table of coded errors. Codes are stable and never reused; docs/errors.md lists them and a test
 * checks the two agree. Each protocol turns a LatchError into its own error frame in one place.
 */
export type ErrorClass = "protocol" | "denial" | "identity" | "infrastructure" | "config";

interface ErrorSpec {
  readonly class: ErrorClass;
  /** SQLSTATE used when the error reaches a PostgreSQL client. */
  readonly sqlstate: string;
  readonly message: string;
}

export const ERRORS = {
  // identity
  token_missing: {
    class: "identity",
    sqlstate: "28000",
    message: "no token: send a Latch OIDC token as the password (e.g. PGPASSWORD=$(latch token ...))",
  },
  token_invalid: { class: "identity", sqlstate: "28P01", message: "token rejected: {reason}" },
  token_expired: {
    class: "identity",
    sqlstate: "28P01",
    message: "token expired at {expiredAt}: fetch a fresh token and reconnect",
  },
  issuer_unknown: {
    class: "identity",
    sqlstate: "28P01",
    message: "token issuer {issuer} is not trusted by this gateway (identity.issuers in latch.yaml)",
  },
  session_token_expired: {
    class: "identity",
    sqlstate: "57P01",
    message: "the token this session was opened with has expired: reconnect with a fresh token",
  },
  principal_blocked: {
    class: "identity",
    sqlstate: "28000",
    message: "principal is blocked on this gateway: ask an administrator (latch principals unblock)",
  },
  // connection selection and protocol
  connection_unknown: {
    class: "protocol",
    sqlstate: "3D000",
    message:
      'no connection named "{name}" on this gateway: set the database name to one of the configured connections',
  },
  protocol_violation: { class: "protocol", sqlstate: "08P01", message: "protocol violation: {reason}" },
  message_too_large: {
    class: "protocol",
    sqlstate: "08P01",
    message: "message of {size} bytes exceeds the gateway limit of {limit} bytes",
  },
  tls_required: {
    class: "protocol",
    sqlstate: "28000",
    message: "this gateway requires TLS: connect with sslmode=require (or verify-full)",
  },
  feature_refused: {
    class: "protocol",
    sqlstate: "0A000",
    message: "{feature} is not allowed through Latch: {why}",
  },
  startup_parameter_refused: {
    class: "protocol",
    sqlstate: "0A000",
    message: 'startup parameter "{name}" is not allowed through Latch: {why}',
  },
  http_request_refused: {
    class: "protocol",
    sqlstate: "08P01",
    message: "Latch refused this HTTP request, so it was not forwarded: {reason}",
  },
  tool_arguments_invalid: {
    class: "protocol",
    sqlstate: "22023",
    message: "MCP tool {name}: {reason}",
  },
  // denials
  statement_denied: { class: "denial", sqlstate: "42501", message: "denied by Latch policy: {reason}" },
  statement_unparseable: {
    class: "denial",
    sqlstate: "42601",
    message: "Latch could not parse this statement, so it was not run: {reason}",
  },
  statement_unsupported: {
    class: "denial",
    sqlstate: "42501",
    message: "Latch does not support {what}, so it was not run",
  },
  transaction_aborted: {
    class: "denial",
    sqlstate: "25P02",
    message:
      "current transaction is aborted (an earlier statement was denied by Latch), commands ignored until end of transaction block",
  },
  approval_denied: {
    class: "denial",
    sqlstate: "42501",
    message: "approval request {request} was denied, so the statement was not run: {reason}",
  },
  approval_expired: {
    class: "denial",
    sqlstate: "42501",
    message: "approval request {request} expired without a decision, so the statement was not run: {reason}",
  },
  approval_deferred: {
    class: "denial",
    sqlstate: "42501",
    message: "held for approval, so the statement was not run: {reason}",
  },
  row_ceiling_exceeded: {
    class: "denial",
    sqlstate: "42501",
    message:
      "the statement changed {rows} rows, more than its preview showed ({previewed}, ceiling {ceiling}{request}), so Latch rolled it back: nothing changed; re-run it to be previewed and decided again",
  },
  transaction_rolled_back: {
    class: "denial",
    sqlstate: "25P02",
    message:
      "Latch rolled back this transaction ({reason}); nothing in it was kept: send ROLLBACK, then start again",
  },
  approval_unavailable: {
    class: "infrastructure",
    sqlstate: "42501",
    message: "approval could not be requested, so the statement was not run: {reason}",
  },
  mcp_tool_changed: {
    class: "denial",
    sqlstate: "42501",
    message:
      'the definition of tool "{tool}" on MCP connection "{connection}" changed since it was pinned (a possible rug pull), so it is refused until an administrator reviews and accepts it: {accept}',
  },
  mcp_tool_unaccepted: {
    class: "denial",
    sqlstate: "42501",
    message:
      'tool "{tool}" on MCP connection "{connection}" is new and this connection pins only what an administrator accepted: {accept}',
  },
  mcp_budget_exceeded: {
    class: "denial",
    sqlstate: "42501",
    message:
      'this MCP session used its budget on connection "{connection}" ({what}); start a new session or ask the operator to raise connections.{connection}.budget',
  },
  mcp_result_too_large: {
    class: "denial",
    sqlstate: "42501",
    message:
      'the result of tool "{tool}" on MCP connection "{connection}" is larger than the limit of {limit} bytes (at least {size}), so none of it was sent; ask for less (a page, a narrower query) or ask the operator to raise connections.{connection}.max_result_bytes',
  },
  mcp_upstream_request_refused: {
    class: "denial",
    sqlstate: "42501",
    message:
      'the upstream MCP server of connection "{name}" sent a {method} request; Latch refuses sampling, elicitation and roots requests from upstream servers',
  },
  response_withheld: {
    class: "denial",
    sqlstate: "42501",
    message:
      "the response was withheld because Latch could not mask it ({reason}); ask the operator to list its type in unmasked_types or fix the masking profile",
  },
  result_withheld: {
    class: "denial",
    sqlstate: "42501",
    message:
      "result withheld by Latch masking: {reason}; nothing of it was sent in clear (ask the operator to adjust the masking profile)",
  },
  policy_error: {
    class: "infrastructure",
    sqlstate: "42501",
    message: "policy evaluation failed, so the statement was denied: {reason}",
  },
  // infrastructure
  audit_unavailable: {
    class: "infrastructure",
    sqlstate: "58030",
    message: "the audit log could not be written, so the statement was not run; contact the gateway operator",
  },
  store_unavailable: {
    class: "infrastructure",
    sqlstate: "58030",
    message: "the gateway's store could not be read, so the login was refused; contact the gateway operator",
  },
  too_many_connections: {
    class: "infrastructure",
    sqlstate: "53300",
    message:
      "sorry, too many connections to this gateway (limits.max_connections is {limit}); try again later",
  },
  too_many_handshakes: {
    class: "infrastructure",
    sqlstate: "53300",
    message:
      "too many connections from {address} are still in their handshake (limit {limit}); finish or close them first",
  },
  upstream_too_many_connections: {
    class: "infrastructure",
    sqlstate: "53300",
    message:
      'the upstream of connection "{name}" has no connection slots left (its max_connections is reached); try again later',
  },
  upstream_unavailable: {
    class: "infrastructure",
    sqlstate: "08006",
    message: 'upstream for connection "{name}" is unreachable: {reason}',
  },
  upstream_auth_failed: {
    class: "infrastructure",
    sqlstate: "08006",
    message:
      'the gateway could not authenticate to the upstream of connection "{name}"; contact the gateway operator',
  },
  upstream_statement_failed: {
    class: "infrastructure",
    sqlstate: "58000",
    message: 'the upstream of connection "{name}" refused the statement: {reason}',
  },
  upstream_protocol: {
    class: "infrastructure",
    sqlstate: "08P01",
    message: 'the upstream of connection "{name}" sent something Latch does not accept: {reason}',
  },
  session_terminated: {
    class: "infrastructure",
    sqlstate: "57P01",
    message: "session terminated by the gateway: {reason}",
  },
  gateway_shutting_down: {
    class: "infrastructure",
    sqlstate: "57P01",
    message: "the gateway is shutting down",
  },
  internal: {
    class: "infrastructure",
    sqlstate: "XX000",
    message: "internal gateway error (reference {ref}); the statement was not run",
  },
  // config
  config_invalid: { class: "config", sqlstate: "F0000", message: "{detail}" },
  audit_chain_broken: {
    class: "config",
    sqlstate: "F0000",
    message:
      "the audit store does not verify ({part}, event {seq}: {problem}); the gateway does not write after it. Keep a copy of data_dir, inspect it with latch audit verify, then either restore it or acknowledge the break with latch audit new-segment --reason TEXT",
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export class LatchError extends Error {
  readonly code: ErrorCode;
  readonly spec: ErrorSpec;
  readonly params: Readonly<Record<string, string | number>>;

  constructor(code: ErrorCode, params: Record<string, string | number> = {}, options?: { cause?: unknown }) {
    const spec: ErrorSpec = ERRORS[code];
    super(formatMessage(spec.message, params), options);
    this.name = "LatchError";
    this.code = code;
    this.spec = spec;
    this.params = params;
  }

  get sqlstate(): string {
    return this.spec.sqlstate;
  }
}

function formatMessage(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in params ? String(params[key]) : whole,
  );
}

export function isLatchError(value: unknown): value is LatchError {
  return value instanceof LatchError;
}

/** Unknown exceptions never reach a client verbatim: they become an opaque internal error with a reference. */
export function asLatchError(error: unknown, reference: string): LatchError {
  if (isLatchError(error)) return error;
  return new LatchError("internal", { ref: reference }, { cause: error });
}
