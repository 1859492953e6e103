/**
 * The connection phase's packets (HandshakeV10, SSLRequest, HandshakeResponse41, AuthSwitchRequest), decoded
 * and encoded. Pure: payloads in, typed values out; the packet framing is packet-reader's.
 */
import { CAPABILITY } from "./capabilities.js";
import { MysqlProtocolViolation } from "./packet-reader.js";
import { PayloadWriter } from "./packet-writer.js";
import { PayloadCursor } from "./payload-cursor.js";

export interface ServerGreeting {
  readonly kind: "HandshakeV10";
  readonly serverVersion: string;
  readonly connectionId: number;
  /** The 20-byte scramble (both parts, without the trailing NUL). */
  readonly scramble: Buffer;
  readonly capabilities: number;
  readonly charset: number;
  readonly status: number;
  readonly authPlugin: string;
}

export interface SslRequest {
  readonly kind: "SSLRequest";
  readonly capabilities: number;
  readonly maxPacketSize: number;
  readonly charset: number;
}

export interface HandshakeResponse {
  readonly kind: "HandshakeResponse41";
  readonly capabilities: number;
  readonly maxPacketSize: number;
  readonly charset: number;
  readonly user: string;
  readonly authResponse: Buffer;
  readonly database: string | undefined;
  readonly authPlugin: string | undefined;
  readonly attributes: ReadonlyMap<string, string>;
}

const SSL_REQUEST_BYTES = 32;

export function encodeGreeting(greeting: Omit<ServerGreeting, "kind">): Buffer {
  if (greeting.scramble.length !== 20) throw new RangeError("scramble must be 20 bytes");
  return new PayloadWriter()
    .u8(10)
    .nulString(greeting.serverVersion)
    .u32(greeting.connectionId)
    .bytes(greeting.scramble.subarray(0, 8))
    .u8(0)
    .u16(greeting.capabilities & 0xffff)
    .u8(greeting.charset)
    .u16(greeting.status)
    .u16(greeting.capabilities >>> 16)
    .u8(21)
    .zeros(10)
    .bytes(greeting.scramble.subarray(8))
    .u8(0)
    .nulString(greeting.authPlugin)
    .build();
}

export function decodeGreeting(payload: Buffer): ServerGreeting {
  const c = new PayloadCursor(payload, "server greeting");
  const version = c.u8();
  if (version !== 10)
    throw new MysqlProtocolViolation(`server greeting has protocol version ${version}, expected 10`);
  const serverVersion = c.nulString();
  const connectionId = c.u32();
  const part1 = c.bytes(8);
  c.u8();
  let capabilities = c.u16();
  const charset = c.u8();
  const status = c.u16();
  capabilities = (capabilities | (c.u16() << 16)) >>> 0;
  const authDataLength = c.u8();
  c.bytes(10);
  let part2 = Buffer.alloc(0);
  if (capabilities & CAPABILITY.SECURE_CONNECTION) {
    part2 = Buffer.from(c.bytes(Math.max(13, authDataLength - 8)));
    if (part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1);
  }
  const authPlugin =
    capabilities & CAPABILITY.PLUGIN_AUTH && c.remaining > 0
      ? readTrailingString(c)
      : "mysql_native_password";
  return {
    kind: "HandshakeV10",
    serverVersion,
    connectionId,
    scramble: Buffer.concat([part1, part2]),
    capabilities,
    charset,
    status,
    authPlugin,
  };
}

/** A NUL-terminated string that some servers send without its terminator at the end of a packet. */
function readTrailingString(c: PayloadCursor): string {
  const rest = c.rest();
  const end = rest.indexOf(0);
  return (end === -1 ? rest : rest.subarray(0, end)).toString("utf8");
}

/** The client's first packet: an SSLRequest (exactly 32 bytes, SSL flag set) or its HandshakeResponse41. */
export function decodeClientHello(payload: Buffer): SslRequest | HandshakeResponse {
  const c = new PayloadCursor(payload, "handshake response");
  const capabilities = c.u32();
  if (!(capabilities & CAPABILITY.PROTOCOL_41))
    throw new MysqlProtocolViolation("the client does not speak protocol 4.1 (CLIENT_PROTOCOL_41)");
  const maxPacketSize = c.u32();
  const charset = c.u8();
  c.bytes(23);
  if (payload.length === SSL_REQUEST_BYTES) {
    if (!(capabilities & CAPABILITY.SSL))
      throw new MysqlProtocolViolation("a 32-byte handshake response without CLIENT_SSL");
    return { kind: "SSLRequest", capabilities, maxPacketSize, charset };
  }
  const user = c.nulString();
  let authResponse: Buffer;
  if (capabilities & CAPABILITY.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = nonNull(c.lenencBytes());
  else if (capabilities & CAPABILITY.SECURE_CONNECTION) authResponse = c.bytes(c.u8());
  else authResponse = c.nulBytes();
  const database = capabilities & CAPABILITY.CONNECT_WITH_DB && c.remaining > 0 ? c.nulString() : undefined;
  const authPlugin = capabilities & CAPABILITY.PLUGIN_AUTH && c.remaining > 0 ? readPluginName(c) : undefined;
  const attributes = new Map<string, string>();
  if (capabilities & CAPABILITY.CONNECT_ATTRS && c.remaining > 0) {
    const total = c.lenencInt() ?? 0;
    const attrs = new PayloadCursor(c.bytes(total), "connection attributes");
    while (attrs.remaining > 0) attributes.set(attrs.lenencString(), attrs.lenencString());
  }
  return {
    kind: "HandshakeResponse41",
    capabilities,
    maxPacketSize,
    charset,
    user,
    authResponse: Buffer.from(authResponse),
    database: database === "" ? undefined : database,
    authPlugin,
    attributes,
  };
}

function readPluginName(c: PayloadCursor): string {
  const end = c.payload.indexOf(0, c.offset);
  if (end === -1) return c.rest().toString("utf8");
  return c.nulString();
}

function nonNull(value: Buffer | null): Buffer {
  if (value === null) throw new MysqlProtocolViolation("handshake response: NULL auth response");
  return value;
}

export function encodeSslRequest(capabilities: number, charset: number): Buffer {
  return new PayloadWriter().u32(capabilities).u32(0x1000000).u8(charset).zeros(23).build();
}

export function encodeHandshakeResponse(response: Omit<HandshakeResponse, "kind">): Buffer {
  const w = new PayloadWriter()
    .u32(response.capabilities)
    .u32(response.maxPacketSize)
    .u8(response.charset)
    .zeros(23)
    .nulString(response.user);
  if (response.capabilities & CAPABILITY.PLUGIN_AUTH_LENENC_CLIENT_DATA)
    w.lenencString(response.authResponse);
  else w.u8(response.authResponse.length).bytes(response.authResponse);
  if (response.capabilities & CAPABILITY.CONNECT_WITH_DB) w.nulString(response.database ?? "");
  if (response.capabilities & CAPABILITY.PLUGIN_AUTH) w.nulString(response.authPlugin ?? "");
  if (response.capabilities & CAPABILITY.CONNECT_ATTRS) {
    const attrs = new PayloadWriter();
    for (const [key, value] of response.attributes) attrs.lenencString(key).lenencString(value);
    w.lenencString(attrs.build());
  }
  return w.build();
}

/** 0xFE + plugin name + its data: the server asks the client to authenticate with another method. */
export function encodeAuthSwitchRequest(plugin: string, data: Buffer): Buffer {
  return new PayloadWriter().u8(0xfe).nulString(plugin).bytes(data).build();
}

export interface AuthSwitchRequest {
  readonly kind: "AuthSwitchRequest";
  readonly plugin: string;
  readonly data: Buffer;
}

export function decodeAuthSwitchRequest(payload: Buffer): AuthSwitchRequest {
  const c = new PayloadCursor(payload, "auth switch request");
  c.u8();
  const plugin = c.nulString();
  let data = Buffer.from(c.rest());
  if (data[data.length - 1] === 0) data = data.subarray(0, data.length - 1);
  return { kind: "AuthSwitchRequest", plugin, data };
}
