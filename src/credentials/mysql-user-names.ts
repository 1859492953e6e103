/**
 * Pure helpers for per-session MySQL/MariaDB users: their names, and the quoting of every name and literal the
 * gateway puts into admin SQL. Nothing here accepts text it cannot quote safely under every sql_mode: a name or
 * host with a character outside the allowed set is refused, not escaped.
 */
import { randomBytes } from "node:crypto";
import { MYSQL_ACCOUNT_HOST, MYSQL_ROLE_NAME } from "../config/mysql-connection-schema.js";

/**
 * `latch_<16 hex gateway id>_<8 random hex>`: 31 characters, inside MySQL's 32-character user-name limit. The
 * gateway id tells the reaper whose leftover a user is; the random part ties it to nothing an operator could
 * read a secret from (no subject, no session id, no password material).
 */
const USER_NAME = /^latch_([0-9a-f]{16})_[0-9a-f]{8}$/;

export function ephemeralMysqlUserName(gatewayId: string): string {
  if (!/^[0-9a-f]{16}$/.test(gatewayId)) throw new Error("gateway id must be 16 hex digits");
  return `latch_${gatewayId}_${randomBytes(4).toString("hex")}`;
}

/** The gateway id in one of our user names, or undefined when the name is not one this scheme makes. */
export function gatewayOfMysqlUser(user: string): string | undefined {
  return USER_NAME.exec(user)?.[1];
}

/** The password of a per-session user: 32 URL-safe random characters, so it quotes without escapes. */
export function ephemeralMysqlPassword(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * A string literal for text known to be plain (no quote, backslash, NUL or control character): the same bytes
 * whatever NO_BACKSLASH_ESCAPES or ANSI_QUOTES say. Anything else is refused.
 */
export function mysqlPlainLiteral(text: string): string {
  if (!/^[A-Za-z0-9 ._:%/$@+=-]*$/.test(text))
    throw new Error("refusing to put a string with special characters into admin SQL");
  return `'${text}'`;
}

/** A backtick-quoted identifier (roles), from names that passed MYSQL_ROLE_NAME. */
export function mysqlRoleIdentifier(role: string): string {
  if (!MYSQL_ROLE_NAME.test(role)) throw new Error(`refusing role name ${JSON.stringify(role)}`);
  return `\`${role}\``;
}

/** `'user'@'host'` for a user of our naming scheme (or one listed by the reaper) and a checked host. */
export function mysqlAccount(user: string, host: string): string {
  if (!/^[A-Za-z0-9_]{1,80}$/.test(user)) throw new Error("refusing a user name with special characters");
  if (!MYSQL_ACCOUNT_HOST.test(host)) throw new Error("refusing an account host with special characters");
  return `${mysqlPlainLiteral(user)}@${mysqlPlainLiteral(host)}`;
}

/** The statements that create one session's user, with exactly the configured roles as its defaults. */
export function createUserStatements(
  dialect: "mariadb" | "mysql",
  account: string,
  password: string,
  roles: readonly string[],
): string[] {
  const statements = [`CREATE USER ${account} IDENTIFIED BY ${mysqlPlainLiteral(password)}`];
  if (roles.length === 0) return statements;
  const quoted = roles.map(mysqlRoleIdentifier);
  statements.push(`GRANT ${quoted.join(", ")} TO ${account}`);
  // MariaDB has one default role per user and the `FOR` form; MySQL 8 takes a list and `TO`.
  if (dialect === "mariadb") statements.push(`SET DEFAULT ROLE ${quoted[0]} FOR ${account}`);
  else statements.push(`SET DEFAULT ROLE ${quoted.join(", ")} TO ${account}`);
  return statements;
}
