import { LatchError } from "../../errors.js";

export interface AcceptedStartup {
  /** Informational: identity comes from the token, never from this name. */
  readonly clientUser: string;
  /** Selects the connection. */
  readonly database: string;
  /** Parameters passed on to the upstream (with client_encoding forced to UTF8). */
  readonly forward: ReadonlyMap<string, string>;
  /** `_pq_.` protocol options the client asked for; reported back as unrecognized. */
  readonly protocolOptions: readonly string[];
}

/** Session settings that are safe to pass through: they change formatting, not what runs or as whom. */
const FORWARDED = new Set([
  "application_name",
  "datestyle",
  "timezone",
  "intervalstyle",
  "extra_float_digits",
  "lc_monetary",
  "lc_numeric",
  "lc_time",
  "bytea_output",
  "statement_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
]);

/** Named refusals, so the error says why instead of "unknown". */
const REFUSED: Record<string, string> = {
  replication: "replication connections bypass statement policy",
  options: "command-line options can change role, search_path or read-only mode",
  role: "the upstream role is chosen by the gateway",
  session_authorization: "the upstream role is chosen by the gateway",
  search_path: "it changes which tables unqualified names refer to",
  default_transaction_read_only: "it is decided by policy, not by the client",
  standard_conforming_strings: "it changes how the server lexes strings",
};

/** Client encodings that lex like UTF-8 for everything the classifier looks at. */
const UTF8_COMPATIBLE = new Set(["utf8", "utf-8", "unicode", "sql_ascii", "auto"]);

export function acceptStartupParameters(parameters: ReadonlyMap<string, string>): AcceptedStartup {
  const forward = new Map<string, string>([["client_encoding", "UTF8"]]);
  const protocolOptions: string[] = [];
  let clientUser: string | undefined;
  let database: string | undefined;
  for (const [name, value] of parameters) {
    const key = name.toLowerCase();
    if (key === "user") clientUser = value;
    else if (key === "database") database = value;
    else if (key.startsWith("_pq_.")) protocolOptions.push(name);
    else if (key === "client_encoding") {
      if (!UTF8_COMPATIBLE.has(value.toLowerCase())) {
        throw new LatchError("startup_parameter_refused", {
          name,
          why: `Latch speaks UTF8 only (asked for ${value.slice(0, 32)}); set PGCLIENTENCODING=UTF8`,
        });
      }
    } else if (key in REFUSED) {
      throw new LatchError("startup_parameter_refused", { name, why: REFUSED[key]! });
    } else if (FORWARDED.has(key)) forward.set(name, value);
    else {
      throw new LatchError("startup_parameter_refused", {
        name: name.slice(0, 64),
        why: "Latch does not pass unknown session settings through",
      });
    }
  }
  if (clientUser === undefined || clientUser === "") {
    throw new LatchError("protocol_violation", { reason: "StartupMessage has no user" });
  }
  return { clientUser, database: database || clientUser, forward, protocolOptions };
}
