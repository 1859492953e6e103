/**
 * Pure helpers for per-session role names and SQL quoting. Every name and literal that reaches the upstream in
 * DDL goes through these: token claims (the subject) are attacker-influenced text.
 */

/** Every ephemeral role starts with this; the reaper looks only at roles with this prefix and our comment. */
export const EPHEMERAL_ROLE_PREFIX = "latch_";
const MAX_SUBJECT_CHARS = 20;

/**
 * `latch_<subject, sanitised, <= 20 chars>_<8 hex of the session id>`: an operator reading pg_stat_activity sees
 * who and which session. Only [a-z0-9_] survive, so the name is ASCII and far below the 63-byte limit.
 */
export function ephemeralRoleName(subject: string, sessionId: string): string {
  const readable =
    subject
      .normalize("NFKD")
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "_")
      .replace(/^_+|_+$/g, "")
      .slice(0, MAX_SUBJECT_CHARS)
      .replace(/_+$/, "") || "anon";
  const sessionHex = sessionId
    .replace(/[^0-9a-f]/gi, "")
    .toLowerCase()
    .slice(0, 8)
    .padEnd(8, "0");
  return `${EPHEMERAL_ROLE_PREFIX}${readable}_${sessionHex}`;
}

/** A double-quoted identifier. NUL cannot be represented, so it is refused rather than silently cut. */
export function quoteIdentifier(name: string): string {
  if (name.includes("\0")) throw new Error("identifier contains NUL");
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A single-quoted literal for standard_conforming_strings = on (the default since 9.1, and the only setting
 * where backslashes are not escapes). The E'' form is never used.
 */
export function quoteLiteral(text: string): string {
  if (text.includes("\0")) throw new Error("literal contains NUL");
  return `'${text.replace(/'/g, "''")}'`;
}

/** What COMMENT ON ROLE says, so the reaper only ever touches roles this gateway made for this connection. */
export function roleComment(gatewayId: string, connection: string, sessionId: string): string {
  return `latch:${gatewayId}:${connection}:${sessionId}`;
}

/** The gateway and session a role comment names, if it is one of ours for `connection`. */
export function parseRoleComment(
  comment: string,
  connection: string,
): { gatewayId: string; sessionId: string } | undefined {
  const parts = comment.split(":");
  if (parts.length !== 4 || parts[0] !== "latch" || parts[2] !== connection) return undefined;
  return { gatewayId: parts[1]!, sessionId: parts[3]! };
}

/** The comment prefix of every role this gateway made for this connection. */
export function roleCommentPrefix(gatewayId: string, connection: string): string {
  return `latch:${gatewayId}:${connection}:`;
}
