/** The one place a LatchError becomes a MySQL ERR packet: a MySQL error number and SQLSTATE clients know. */
import type { ErrorCode, LatchError } from "../../errors.js";
import { encodePacket } from "./packet-writer.js";
import { encodeErr } from "./response-packets.js";

/** MySQL error numbers (include/mysqld_error.h) per Latch error, so clients and ORMs react as to the server. */
const NUMBERS: Partial<Record<ErrorCode, readonly [number, string]>> = {
  statement_denied: [1142, "42000"], // ER_TABLEACCESS_DENIED_ERROR
  approval_denied: [1142, "42000"],
  approval_expired: [1142, "42000"],
  approval_deferred: [1142, "42000"],
  row_ceiling_exceeded: [1142, "42000"],
  transaction_rolled_back: [1142, "42000"],
  result_withheld: [1142, "42000"],
  statement_unparseable: [1064, "42000"], // ER_PARSE_ERROR
  statement_unsupported: [1235, "42000"], // ER_NOT_SUPPORTED_YET
  feature_refused: [1235, "42000"],
  connection_unknown: [1049, "42000"], // ER_BAD_DB_ERROR
  tls_required: [3159, "HY000"], // ER_SECURE_TRANSPORT_REQUIRED
  protocol_violation: [1047, "08S01"], // ER_UNKNOWN_COM_ERROR
  message_too_large: [1153, "08S01"], // ER_NET_PACKET_TOO_LARGE
  too_many_connections: [1040, "08004"], // ER_CON_COUNT_ERROR
  too_many_handshakes: [1040, "08004"],
  upstream_too_many_connections: [1040, "08004"],
  session_terminated: [1927, "70100"], // ER_CONNECTION_KILLED
  gateway_shutting_down: [1053, "08S01"], // ER_SERVER_SHUTDOWN
};

const HINTS: Partial<Record<ErrorCode, string>> = {
  token_missing: "Mint a token and pass it as the password (mariadb/mysql: --enable-cleartext-plugin).",
  token_invalid: "Fetch a fresh token from your identity provider and pass it as the password.",
  token_expired: "Fetch a fresh token and reconnect.",
  statement_denied:
    "Ask an administrator to extend the policy, or run `latch policy test` to see which rule applies.",
  tls_required: "Connect with TLS (mariadb --ssl, mysql --ssl-mode=REQUIRED, mysql2 ssl: {}).",
  connection_unknown:
    "The database name selects the connection; ask the operator for the list of connections.",
};

export function errPayload(error: LatchError): Buffer {
  const [number, sqlState] =
    NUMBERS[error.code] ??
    (error.spec.class === "identity" ? ([1045, "28000"] as const) : ([1105, "HY000"] as const));
  const hint = HINTS[error.code];
  return encodeErr({
    code: number,
    sqlState,
    message: `Latch: ${error.message} (latch error code: ${error.code})${hint === undefined ? "" : `. ${hint}`}`,
  });
}

/** The ERR packet as the client receives it, with the sequence id of its place in the exchange. */
export function errorPacket(error: LatchError, sequenceId = 0): Buffer {
  return encodePacket(errPayload(error), sequenceId);
}

export { asLatchError } from "../../errors.js";
