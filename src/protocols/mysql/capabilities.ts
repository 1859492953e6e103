/**
 * Capability flags (include/mysql_com.h) and what the gateway does with each. The gateway relays result sets
 * unchanged, so the client and the upstream must agree on every flag that changes a packet's layout: the set
 * offered to clients is fixed, and the upstream login asks for exactly what the client chose.
 */
export const CAPABILITY = {
  LONG_PASSWORD: 1,
  FOUND_ROWS: 1 << 1,
  LONG_FLAG: 1 << 2,
  CONNECT_WITH_DB: 1 << 3,
  NO_SCHEMA: 1 << 4,
  COMPRESS: 1 << 5,
  ODBC: 1 << 6,
  LOCAL_FILES: 1 << 7,
  IGNORE_SPACE: 1 << 8,
  PROTOCOL_41: 1 << 9,
  INTERACTIVE: 1 << 10,
  SSL: 1 << 11,
  IGNORE_SIGPIPE: 1 << 12,
  TRANSACTIONS: 1 << 13,
  RESERVED: 1 << 14,
  SECURE_CONNECTION: 1 << 15,
  MULTI_STATEMENTS: 1 << 16,
  MULTI_RESULTS: 1 << 17,
  PS_MULTI_RESULTS: 1 << 18,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
  CAN_HANDLE_EXPIRED_PASSWORDS: 1 << 22,
  SESSION_TRACK: 1 << 23,
  DEPRECATE_EOF: 1 << 24,
} as const;

const C = CAPABILITY;

/**
 * Offered to clients. Not offered: LOCAL_FILES (LOAD DATA LOCAL would let the server read client files, and
 * the gateway does not relay that exchange), COMPRESS (the gateway inspects bytes; no compression codec),
 * CONNECT_ATTRS (not relayed: they are client-chosen text the upstream logs and would show as ours),
 * SESSION_TRACK (OK packets stay in the simple layout the gateway parses), NO_SCHEMA and ODBC (legacy).
 */
export const GATEWAY_CAPABILITIES =
  C.LONG_PASSWORD |
  C.FOUND_ROWS |
  C.LONG_FLAG |
  C.CONNECT_WITH_DB |
  C.IGNORE_SPACE |
  C.PROTOCOL_41 |
  C.INTERACTIVE |
  C.SSL |
  C.IGNORE_SIGPIPE |
  C.TRANSACTIONS |
  C.RESERVED |
  C.SECURE_CONNECTION |
  C.MULTI_STATEMENTS |
  C.MULTI_RESULTS |
  C.PS_MULTI_RESULTS |
  C.PLUGIN_AUTH |
  C.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  C.DEPRECATE_EOF;

/** What every client must have: the 4.1 protocol with plugin authentication (all clients since 2012 do). */
export const REQUIRED_CLIENT_CAPABILITIES = C.PROTOCOL_41 | C.SECURE_CONNECTION | C.PLUGIN_AUTH;

/** The client's flags as the gateway accepts them: whatever it asked for beyond the offer is dropped. */
export function negotiate(clientFlags: number): number {
  return (clientFlags & GATEWAY_CAPABILITIES) >>> 0;
}

/**
 * What the gateway asks of the upstream: the client's negotiated layout flags (so relayed packets mean the same
 * to both), plus what the gateway's own login needs; SSL only when it upgrades. Throws the missing flag's name
 * when the upstream lacks a layout flag the client relies on.
 */
export function upstreamCapabilities(clientFlags: number, serverFlags: number, tls: boolean): number {
  const layout = C.DEPRECATE_EOF | C.MULTI_RESULTS | C.PS_MULTI_RESULTS | C.MULTI_STATEMENTS;
  for (const [name, bit] of Object.entries(C)) {
    if ((layout & bit) !== 0 && (clientFlags & bit) !== 0 && (serverFlags & bit) === 0)
      throw new Error(`the upstream server does not support ${name}, which the client negotiated`);
  }
  for (const [name, bit] of Object.entries(C)) {
    if ((REQUIRED_CLIENT_CAPABILITIES & bit) !== 0 && (serverFlags & bit) === 0)
      throw new Error(`the upstream server does not support ${name}`);
  }
  const wanted = negotiate(clientFlags) | REQUIRED_CLIENT_CAPABILITIES | C.CONNECT_WITH_DB;
  let flags = wanted & ~C.SSL & serverFlags;
  flags |= serverFlags & C.PLUGIN_AUTH_LENENC_CLIENT_DATA;
  if (tls) flags |= C.SSL;
  return flags >>> 0;
}
